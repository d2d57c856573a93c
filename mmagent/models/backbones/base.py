# Copyright (c) mmagent contributors. All rights reserved.
"""What every backbone family shares: the official-kwarg aliases, arch
presets, per-block attention from the registry, out_indices, stage
freezing, ``norm_eval``, the official initialisation and pretrained
loading."""
import copy
import difflib
import functools
import inspect
import logging
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.checkpoint import (CheckpointLoadError, extract_state_dict,
                                 load_checkpoint_file, trust_checkpoints)
from ..layers import ATTENTIONS, TransformerBlock, build_attention
from .resize_weights import fit_resolution

NORM_TYPES = (_BatchNorm, nn.LayerNorm, nn.GroupNorm)


def backbone_init(aliases: Optional[Dict[str, str]] = None,
                  ignored: Sequence[str] = ()):
    """Decorate a family's ``__init__``: record its arguments for the
    skeleton and let it take the official backbone dicts unchanged.

    ``aliases`` maps an official name to ours (e.g. ``img_size`` ->
    ``pretrain_img_size``); ``ignored`` names are accepted and dropped because
    the official code ignores them too (e.g. ``num_classes``, ``qk_scale``).
    Every argument, defaults included, is kept in ``self.init_args``:
    :class:`AttentionBackbone` reads the common ones (``out_indices``,
    ``drop_rate``, ``qkv_bias`` ...) from there by name, so a family states
    them once, in its signature. Decorate one ``__init__`` per family: a
    subclass that only changes defaults (the FLatten models) passes its
    arguments on undecorated, and the family's recording holds them.
    """

    def decorator(init):

        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            for official, ours in (aliases or {}).items():
                if official in kwargs:
                    if ours in kwargs:
                        raise TypeError(f'{type(self).__name__} got both '
                                        f'{official!r} and its alias '
                                        f'{ours!r}')
                    kwargs[ours] = kwargs.pop(official)
            for name in ignored:
                kwargs.pop(name, None)
            unknown = [k for k in kwargs if k not in accepted]
            if unknown:
                close = difflib.get_close_matches(unknown[0], accepted, n=3)
                hint = f'; did you mean {", ".join(close)}?' if close else \
                    f'; it accepts {", ".join(sorted(accepted))}'
                raise TypeError(f'{type(self).__name__} got an unexpected '
                                f'keyword argument {unknown[0]!r}{hint}')
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            init_args = dict(common)
            for name, value in bound.arguments.items():
                if name == 'kwargs':
                    init_args.update(value)
                elif name != 'self':
                    init_args[name] = value
            # a plain attribute, set before nn.Module.__init__ runs
            object.__setattr__(self, 'init_args', init_args)
            return init(self, *args, **kwargs)

        signature = inspect.signature(init)
        # the arguments AttentionBackbone.__init__ takes for every family
        common = {
            name: p.default for name, p in inspect.signature(
                AttentionBackbone.__init__).parameters.items()
            if name != 'self'}
        accepted = [name for name in signature.parameters
                    if name not in ('self', 'kwargs')] + list(common) + \
            list(aliases or {}) + list(ignored)
        return wrapper

    return decorator


def resolve_arch(cls_name: str, arch, arch_zoo: Dict[str, dict],
                 overrides: dict) -> dict:
    """An ``arch`` preset (name or dict with the preset's keys) updated with
    the explicitly given (non-None) structural kwargs."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(f'{cls_name}: unknown arch {arch!r}; choose one '
                             f'of {sorted(arch_zoo)} or pass a dict')
        settings = copy.deepcopy(arch_zoo[key])
    elif isinstance(arch, dict):
        required = set(next(iter(arch_zoo.values())))
        if set(arch) != required:
            raise ValueError(f'{cls_name}: a custom arch dict needs exactly '
                             f'the keys {sorted(required)}, got '
                             f'{sorted(arch)}')
        settings = copy.deepcopy(arch)
    else:
        raise TypeError(f'{cls_name}: arch must be a str or dict, got '
                        f'{type(arch).__name__}')
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def check_rate(name: str, value: float) -> None:
    """A dropout / drop-path probability: a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 <= value <= 1:
        raise ValueError(f'{name} must be a probability in [0, 1], got '
                         f'{value!r}')


def check_positive(name: str, value, minimum: int = 1) -> None:
    """An integer size (or each entry of a list/tuple of them, or of pairs)
    at least ``minimum``."""
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if isinstance(v, (list, tuple)):
            check_positive(name, v, minimum)
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or \
                v < minimum:
            need = 'positive' if minimum == 1 else f'>= {minimum}'
            raise ValueError(f'{name} must be {need}, got {value!r}')


def check_agent_shapes(name: str, shapes: Sequence) -> None:
    """Each entry an ``(a_h, a_w)`` pair of positive ints."""
    for shape in shapes:
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            raise ValueError(f'{name} needs an (a_h, a_w) pair per stage, '
                             f'got {shape!r} in {list(shapes)}')
        check_positive(name, shape)


def check_kernel_size(kernel_size: int) -> None:
    """The DWC keeps the map size only with an odd kernel."""
    check_positive('kernel_size', kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be odd (the depth-wise conv pads '
                         f'kernel_size // 2 on each side), got {kernel_size}')


def per_stage(name: str, value, num_stages: int) -> list:
    """One value per stage from one value for every stage, a list or tuple
    with one per stage (digit strings become ints: the official configs
    pass ``agent_num`` so), or an official string: one digit per stage
    (``'1111'``, ``'8421'``) or numbers joined by ``-``
    (``'56-28-14-7'``)."""
    if isinstance(value, str):
        parts = value.split('-') if '-' in value else list(value)
        if len(parts) != num_stages or not all(p.isdigit() for p in parts):
            raise ValueError(
                f'{name} needs {num_stages} numbers, one per stage (e.g. '
                f"{'1' * num_stages!r} or a list), got {value!r}")
        return [int(p) for p in parts]
    if isinstance(value, (list, tuple)):
        if len(value) != num_stages:
            raise ValueError(f'{name} needs {num_stages} entries (one per '
                             f'stage), got {len(value)}: {value}')
        if any(isinstance(v, str) and not v.isdigit() for v in value):
            raise ValueError(f'{name} needs one number per stage, got '
                             f'{value!r}')
        return [int(v) if isinstance(v, str) else v for v in value]
    return [value] * num_stages


def final_norm_to_output_norm(state_dict: dict, last_stage: int) -> dict:
    """The official classifiers' final ``norm`` is the output norm of our
    last stage, ``norm{last_stage}`` (the classifier configs output that
    stage alone)."""
    return OrderedDict(
        (f'norm{last_stage}.{k[5:]}' if k.startswith('norm.') else k, v)
        for k, v in state_dict.items())


@dataclass(frozen=True)
class OfficialLayout:
    """How one family's official ImageNet classifiers store their weights,
    declared by the family (its :attr:`AttentionBackbone.official_layout`)
    and read by the classification task's checkpoint conversion.

    Args:
        name (str): The layout, in messages.
        marker (str): A key pattern (``re.match``) that only this layout's
            checkpoints have, among the layouts tried before it.
        stage_key (str, optional): A key pattern whose group is a stage's
            number; the final ``norm`` becomes the last stage's output
            norm. ``None``: one-stage models, or a final norm kept as it is.
        first_stage (int): The number of the first stage in ``stage_key``.
        unused (Sequence[str]): Key patterns (``re.match``) of weights the
            official forward never applies, dropped.
    """
    name: str
    marker: str
    stage_key: Optional[str] = None
    first_stage: int = 0
    unused: Sequence[str] = ()

    def matches(self, state_dict: dict) -> bool:
        return any(re.match(self.marker, k) for k in state_dict)

    def last_stage(self, state_dict: dict) -> Optional[int]:
        """The 0-based index of the last stage, from the keys."""
        if self.stage_key is None:
            return None
        matches = (re.match(self.stage_key, k) for k in state_dict)
        stages = [int(m.group(1)) - self.first_stage for m in matches if m]
        return max(stages) if stages else None


def drop_path_schedule(drop_path_rate: float,
                       depths: Sequence[int]) -> List[List[float]]:
    """Stochastic depth rising linearly from 0 to ``drop_path_rate`` over
    all blocks, split per stage."""
    rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
    starts = [sum(depths[:i]) for i in range(len(depths))]
    return [rates[s:s + d] for s, d in zip(starts, depths)]


def token_map(x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
    """``(B, H*W, C)`` tokens as a ``(B, C, H, W)`` map."""
    x = x.reshape(x.shape[0], *hw_shape, -1)
    return x.permute(0, 3, 1, 2).contiguous()


class AttentionBackbone(BaseModule):
    """Base of every backbone family (PVT, Swin, ...).

    A family (one file, ``__init__`` decorated with :func:`backbone_init`)
    declares :attr:`arch_zoo` and :attr:`softmax_attention`, resolves its
    preset (:meth:`resolve_settings`), checks its arguments
    (:meth:`check_args`), builds its stem and downsampling and each stage's
    blocks (:meth:`build_stage`, from :meth:`stage_context` and the block
    kinds :func:`~mmagent.models.layers.block_kinds` reads from its
    ``attn_type``), then calls :meth:`finish_building`; it implements
    :meth:`_stem_parts` and :meth:`_stage_parts` for freezing and may list
    in :attr:`optional_keys` the state-dict keys an official ImageNet
    checkpoint legitimately lacks. ``docs/architecture.md`` shows the
    smallest family.

    Every family takes these arguments (through its ``**kwargs``):

    Args:
        out_indices (Sequence[int]): Stages to output. Default: all four.
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stem,
            ``k >= 1`` also stages ``1..k`` (see the family).
        norm_eval (bool): Keep normalization layers in eval mode while
            training. Default: False.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        exact (bool): The official operation order instead of the fast
            path. Default: False.
        attn_cfgs (dict, optional): Extra arguments per attention kind,
            e.g. ``dict(agent=dict(kernel_size=5))``; they override what the
            family passes to every block of that kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): See :meth:`init_weights`.
    """

    #: The registered attention kind of the family's softmax ('B') blocks.
    softmax_attention: str = ''
    #: Whether ``forward`` takes ``valid_sizes`` (each image's size in a
    #: padded batch, :mod:`~mmagent.models.layers.padding`), which the
    #: padding-aware detectors and segmentors of :mod:`mmagent.models.dense`
    #: hand over.
    takes_valid_sizes: bool = False
    # Regexes (re.fullmatch) of keys a checkpoint may lack without error.
    optional_keys: Sequence[str] = ()
    #: The layout of the family's official ImageNet classifiers.
    official_layout: Optional[OfficialLayout] = None

    def __init__(self,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 exact: bool = False,
                 attn_cfgs: Optional[Dict[str, dict]] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        unknown = set(attn_cfgs or {}) - set(ATTENTIONS.module_dict)
        if unknown:
            raise ValueError(f'attn_cfgs names unknown attention kinds '
                             f'{sorted(unknown)}; registered: '
                             f'{sorted(ATTENTIONS.module_dict)}')
        if init_cfg is not None and pretrained is not None:
            raise ValueError('init_cfg and pretrained cannot be set at the '
                             'same time')
        if isinstance(pretrained, str):
            warnings.warn('DeprecationWarning: pretrained is deprecated, '
                          'please use "init_cfg" instead')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif pretrained is not None:
            raise TypeError('pretrained must be a str or None')
        super().__init__(init_cfg=init_cfg)
        # what the family passed on (e.g. DeiT's normalised out_indices)
        self.init_args = dict(
            getattr(self, 'init_args', {}), out_indices=out_indices,
            frozen_stages=frozen_stages, norm_eval=norm_eval,
            with_cp=with_cp, exact=exact, attn_cfgs=attn_cfgs)
        self.attn_cfgs = dict(attn_cfgs or {})
        self.pretrain_img_size = self.init_args.get('pretrain_img_size')
        self.exact = exact

    @staticmethod
    def _init_linear_and_norm(m: nn.Module) -> None:
        """The official initialisation, applied at construction; convs keep
        PyTorch's default, the agent biases and position embeddings their
        truncated normal."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, 0)

    # ------------------------------------------------------------------
    # the skeleton: what every family's __init__ does with its arguments
    # ------------------------------------------------------------------
    #: Dropout arguments every family takes, checked as probabilities.
    rate_args = ('drop_rate', 'attn_drop_rate', 'drop_path_rate')

    def resolve_settings(self, **overrides) -> dict:
        """The ``arch`` preset (of :attr:`arch_zoo`) updated with the
        explicitly given (non-None) structural ``overrides``."""
        return resolve_arch(type(self).__name__, self.init_args['arch'],
                            self.arch_zoo, overrides)

    def check_args(self, num_stages: int, sizes: dict,
                   num_downsamplings: Optional[int] = None) -> None:
        """The checks before building anything: ``out_indices`` and
        ``frozen_stages`` against ``num_stages``, the dropout rates, the
        image, patch and input sizes, the agent grids and the DWC kernel
        (where the family takes them) from ``init_args``, and the positive
        ``sizes`` (name -> value or per-stage list). ``num_downsamplings``
        (default: one between consecutive stages) sets the smallest
        ``pretrain_img_size``: every stage keeps a token of its grid."""
        args = self.init_args
        if num_downsamplings is None:
            num_downsamplings = num_stages - 1
        self.check_outputs(num_stages, args['out_indices'],
                           args['frozen_stages'])
        for name, value in sizes.items():
            check_positive(name, value)
        for name in self.rate_args:
            check_rate(name, args[name])
        check_positive('patch_size', args['patch_size'])
        check_positive('in_channels', args['in_channels'])
        check_positive('pretrain_img_size (img_size)',
                       args['pretrain_img_size'],
                       minimum=args['patch_size'] * 2**num_downsamplings)
        if 'downstream_agent_shapes' in args:
            check_agent_shapes(
                'downstream_agent_shapes',
                per_stage('downstream_agent_shapes',
                          args['downstream_agent_shapes'], num_stages))
        if 'kernel_size' in args:
            check_kernel_size(args['kernel_size'])

    def stage_context(self, **stage) -> dict:
        """A stage's block context (see
        :class:`~mmagent.models.layers.BlockContext`): the settings the
        family's signature takes for every block (``qkv_bias``, dropout,
        ``exact``, the agent ``kernel_size``/``scale``, ``qk_scale``) with
        the stage's own ``stage`` entries."""
        args = self.init_args
        context = dict(qkv_bias=args['qkv_bias'],
                       attn_drop=args['attn_drop_rate'],
                       proj_drop=args['drop_rate'], exact=args['exact'])
        for name in ('kernel_size', 'scale', 'qk_scale'):
            if name in args:
                context[name] = args[name]
        return dict(context, **stage)

    def build_block(self, kind: str, context: dict,
                    **block_kwargs) -> TransformerBlock:
        """A pre-norm :class:`TransformerBlock` whose attention is ``kind``
        built from ``context`` (see
        :func:`~mmagent.models.layers.build_attention`) and ``attn_cfgs``.
        ``block_kwargs`` go to the block (``mlp_ratio``, ``drop``,
        ``drop_path``, ``norm_cfg``, ``with_cp``)."""
        return TransformerBlock(context['embed_dims'],
                                self.build_attention(kind, context),
                                **block_kwargs)

    def build_attention(self, kind: str, context: dict) -> nn.Module:
        """The attention ``kind`` from a block ``context`` and the
        backbone's ``attn_cfgs[kind]``."""
        return build_attention(kind, context, self.attn_cfgs.get(kind))

    def build_stage(self, kinds: Sequence[str], context: dict,
                    drop_paths: Sequence[float],
                    block_context: Optional[Callable[[int, str], dict]] = None,
                    **block_kwargs) -> ModuleList:
        """The blocks of one stage: block ``j`` is :meth:`build_block` of
        ``kinds[j]`` with ``context`` updated by ``block_context(j, kind)``
        (e.g. a shift on odd blocks), stochastic depth ``drop_paths[j]``,
        the MLP dropout ``drop_rate`` and ``with_cp`` of ``init_args``."""
        block_kwargs = dict(dict(drop=self.init_args['drop_rate'],
                                 with_cp=self.init_args['with_cp']),
                            **block_kwargs)
        return ModuleList(
            self.build_block(
                kind, {**context, **(block_context(j, kind)
                                     if block_context else {})},
                drop_path=drop_paths[j], **block_kwargs)
            for j, kind in enumerate(kinds))

    def add_output_norms(self, channels: Sequence[int]) -> None:
        """``norm{i}`` (LayerNorm of stage ``i``'s ``channels[i]``) for each
        of ``out_indices``, as the official Swin/CSWin downstream backbones
        name them."""
        for i in self.init_args['out_indices']:
            self.add_module(f'norm{i}', nn.LayerNorm(channels[i]))

    def finish_building(self, num_stages: int) -> None:
        """The last step of every family's ``__init__``: the official
        initialisation of linears and norms, then ``out_indices``,
        ``frozen_stages`` and ``norm_eval`` of ``init_args``."""
        self.apply(self._init_linear_and_norm)
        args = self.init_args
        self._setup_outputs(num_stages, args['out_indices'],
                            args['frozen_stages'], args['norm_eval'])

    @staticmethod
    def check_outputs(num_stages: int, out_indices: Sequence[int],
                      frozen_stages: int) -> None:
        """Called by families before building anything."""
        out_indices = tuple(out_indices)
        if not out_indices or any(
                isinstance(i, bool) or not isinstance(i, int)
                or not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices must be a non-empty subset of '
                             f'0..{num_stages - 1}, got {out_indices}')
        if isinstance(frozen_stages, bool) or not isinstance(
                frozen_stages, int) or not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {num_stages}], '
                             f'got {frozen_stages!r}')

    def _setup_outputs(self, num_stages: int, out_indices: Sequence[int],
                       frozen_stages: int, norm_eval: bool) -> None:
        self.check_outputs(num_stages, out_indices, frozen_stages)
        out_indices = tuple(out_indices)
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze_stages()

    # ------------------------------------------------------------------
    # freezing
    # ------------------------------------------------------------------
    def _stem_parts(self) -> List:
        """Modules/parameters frozen by ``frozen_stages >= 0``."""
        raise NotImplementedError

    def _stage_parts(self, index: int) -> List:
        """Modules/parameters of stage ``index`` (0-based)."""
        raise NotImplementedError

    def _frozen_parts(self) -> Iterable:
        if self.frozen_stages >= 0:
            yield from self._stem_parts()
        for i in range(self.frozen_stages):
            yield from self._stage_parts(i)

    def _freeze_stages(self) -> None:
        for part in self._frozen_parts():
            if isinstance(part, nn.Parameter):
                part.requires_grad = False
            else:
                part.eval()  # no dropout / drop-path in frozen stages
                for param in part.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True):
        """Keep frozen stages (and norms with ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, NORM_TYPES):
                    m.eval()
        return self

    # ------------------------------------------------------------------
    # weights
    # ------------------------------------------------------------------
    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (optional
        ``prefix``, and ``trusted=True`` for full unpickling of a file you
        trust); otherwise keep the construction-time initialisation
        (truncated normal, like the official code) or run other init_cfg."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            if 'checkpoint' not in cfg:
                raise ValueError(f'{type(self).__name__}: init_cfg of type '
                                 f'Pretrained needs a "checkpoint"')
            self.load_pretrained(cfg['checkpoint'], prefix=cfg.get('prefix'),
                                 trusted=cfg.get('trusted'))
            self._is_init = True
        elif cfg is not None:
            super().init_weights()

    def load_pretrained(self, checkpoint: str,
                        prefix: Optional[str] = None,
                        trusted: Optional[bool] = None) -> None:
        """Load an official ImageNet/detection/segmentation checkpoint, an
        mmengine checkpoint or a bare state dict into this backbone.

        A checkpoint of another resolution (the 256/288/384/448 ImageNet
        models, or a 224 one for a fine-tune at 384) is fitted with
        :func:`~.resize_weights.fit_resolution` and every resized tensor is
        logged. When the last stage is the only output (the classifier
        configs), the official final ``norm`` initialises its output norm
        ``norm{last}``; downstream backbones keep fresh output norms, as
        officially. Missing and unexpected keys are logged. A file that
        cannot be read,
        holds no weights of this backbone, has a differently shaped tensor
        or lacks one of its weights raises :class:`CheckpointLoadError`
        naming the file and the first offending key.
        """
        if '://' in str(checkpoint):  # http(s)://, open-mmlab://, ...
            with trust_checkpoints(bool(trusted)):
                ckpt = CheckpointLoader.load_checkpoint(checkpoint, 'cpu')
        else:
            ckpt = load_checkpoint_file(checkpoint, trusted=trusted)
        state_dict = extract_state_dict(ckpt, checkpoint, prefix)
        name = type(self).__name__
        own = self.state_dict()
        last = getattr(self, 'num_stages', 0) - 1
        if tuple(getattr(self, 'out_indices', ())) == (last, ) and \
                'norm.weight' in state_dict and 'norm.weight' not in own:
            state_dict = final_norm_to_output_norm(state_dict, last)
        state_dict, resized = fit_resolution(state_dict, own)
        if resized:
            print_log(f'{name}: fitted {checkpoint} to this resolution: '
                      f'{"; ".join(resized)}', logger='current')
        if not any(k in own for k in state_dict):
            raise CheckpointLoadError(
                f'{checkpoint} holds no weight of {name}: its first key is '
                f'{next(iter(state_dict))!r}, {name} expects keys like '
                f'{next(iter(own))!r}')
        for key, value in state_dict.items():
            if key in own and value.shape != own[key].shape:
                raise CheckpointLoadError(
                    f'{checkpoint} does not fit this {name}: {key!r} has '
                    f'shape {tuple(value.shape)} in the checkpoint but '
                    f'{tuple(own[key].shape)} in the model (another arch, '
                    f'or another pretrain_img_size?)')
        missing = [k for k in own if k not in state_dict]
        required = [
            k for k in missing
            if not any(re.fullmatch(p, k) for p in self.optional_keys)
        ]
        if required:
            raise CheckpointLoadError(
                f'{checkpoint} does not fit this {name}: it lacks '
                f'{required[0]!r} (shape {tuple(own[required[0]].shape)}) '
                f'and {len(required) - 1} more weights (another arch?)')
        unexpected = [k for k in state_dict if k not in own]
        self.load_state_dict(state_dict, strict=False)
        print_log(f'{name}: loaded {checkpoint}', logger='current')
        if missing:
            print_log(f'{name}: missing keys (kept at init): '
                      f'{", ".join(missing)}', logger='current',
                      level=logging.WARNING)
        if unexpected:
            print_log(f'{name}: unexpected keys (ignored): '
                      f'{", ".join(unexpected)}', logger='current',
                      level=logging.WARNING)
