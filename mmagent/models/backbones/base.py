# Copyright (c) mmagent contributors. All rights reserved.
"""What every backbone family shares: the official-kwarg aliases, arch
presets, per-block attention from the registry, out_indices, stage
freezing, ``norm_eval``, the official initialisation and pretrained
loading."""
import copy
import difflib
import functools
import inspect
import re
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.checkpoint import (CheckpointLoadError, extract_state_dict,
                                 load_checkpoint_file, trust_checkpoints)
from ..layers import ATTENTIONS, TransformerBlock, build_attention
from .resize_weights import fit_resolution

NORM_TYPES = (_BatchNorm, nn.LayerNorm, nn.GroupNorm)


def accepts_official_kwargs(aliases: Dict[str, str],
                            ignored: Sequence[str] = ()):
    """Let ``__init__`` take the official backbone dicts unchanged.

    ``aliases`` maps an official name to ours (e.g. ``img_size`` ->
    ``pretrain_img_size``); ``ignored`` names are accepted and dropped because
    the official code ignores them too (e.g. ``num_classes``, ``qk_scale``).
    """

    def decorator(init):

        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            for official, ours in aliases.items():
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
            return init(self, *args, **kwargs)

        accepted = [
            name for name in inspect.signature(init).parameters
            if name != 'self'
        ] + list(aliases) + list(ignored)
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


def check_common_args(num_stages: int, out_indices: Sequence[int],
                      frozen_stages: int, pretrain_img_size: int,
                      patch_size: int, in_channels: int, rates: dict,
                      kernel_size: int, agent_num: Sequence[int],
                      agent_shapes: Sequence, sizes: dict,
                      num_downsamplings: Optional[int] = None) -> None:
    """The checks every family runs before building anything: outputs and
    freezing, dropout ``rates``, the image and patch sizes, the agent grids,
    the DWC kernel and the positive ``sizes`` (name -> value or list).
    ``num_downsamplings`` (default: one between consecutive stages) sets
    the smallest ``pretrain_img_size``."""
    if num_downsamplings is None:
        num_downsamplings = num_stages - 1
    AttentionBackbone.check_outputs(num_stages, out_indices, frozen_stages)
    for name, value in sizes.items():
        check_positive(name, value)
    for name, rate in rates.items():
        check_rate(name, rate)
    check_positive('patch_size', patch_size)
    check_positive('in_channels', in_channels)
    # every stage must keep at least one token of the pretraining grid
    check_positive('pretrain_img_size (img_size)', pretrain_img_size,
                   minimum=patch_size * 2**num_downsamplings)
    check_positive('agent_num', agent_num)
    check_agent_shapes('downstream_agent_shapes', agent_shapes)
    check_kernel_size(kernel_size)


def stage_digits(name: str, value, num_stages: int) -> List[int]:
    """An official per-stage digit string (``'1111'``, ``'8421'``) as
    ints, one digit >= 1 per stage."""
    digits = str(value)
    if len(digits) != num_stages or not digits.isdigit() or '0' in digits:
        raise ValueError(f'{name} needs {num_stages} digits >= 1, got '
                         f'{value!r}')
    return [int(d) for d in digits]


def per_stage(name: str, value, num_stages: int) -> list:
    """Broadcast a scalar to all stages and check list lengths."""
    if isinstance(value, (list, tuple)):
        if len(value) != num_stages:
            raise ValueError(f'{name} needs {num_stages} entries (one per '
                             f'stage), got {len(value)}: {value}')
        return list(value)
    return [value] * num_stages


class AttentionBackbone(BaseModule):
    """Base of every backbone family (PVT, Swin, ...).

    A family (one file) sets :attr:`softmax_attention`, builds its layers
    with :meth:`build_block` for each block kind that
    :func:`~mmagent.models.layers.block_kinds` reads from its ``attn_type``,
    then calls :meth:`_setup_outputs`; it implements :meth:`_stem_parts` and
    :meth:`_stage_parts` for freezing and may list in :attr:`optional_keys`
    the state-dict keys an official ImageNet checkpoint legitimately lacks.

    Args:
        attn_cfgs (dict, optional): Extra arguments per attention kind,
            e.g. ``dict(agent=dict(kernel_size=5))``; they override what the
            family passes to every block of that kind.
        init_cfg, pretrained: See :meth:`init_weights`.
    """

    #: The registered attention kind of the family's softmax ('B') blocks.
    softmax_attention: str = ''
    # Regexes (re.fullmatch) of keys a checkpoint may lack without error.
    optional_keys: Sequence[str] = ()

    def __init__(self, init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 attn_cfgs: Optional[Dict[str, dict]] = None):
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
        self.attn_cfgs = dict(attn_cfgs or {})

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

    def build_block(self, kind: str, context: dict,
                    **block_kwargs) -> TransformerBlock:
        """A pre-norm :class:`TransformerBlock` whose attention is ``kind``
        built from ``context`` (see
        :func:`~mmagent.models.layers.build_attention`) and ``attn_cfgs``.
        ``block_kwargs`` go to the block (``mlp_ratio``, ``drop``,
        ``drop_path``, ``norm_cfg``, ``with_cp``)."""
        attn = build_attention(kind, context, self.attn_cfgs.get(kind))
        return TransformerBlock(context['embed_dims'], attn, **block_kwargs)

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
            state_dict = {
                f'norm{last}.' + k[5:] if k.startswith('norm.') else k: v
                for k, v in state_dict.items()}
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
                      level=30)
        if unexpected:
            print_log(f'{name}: unexpected keys (ignored): '
                      f'{", ".join(unexpected)}', logger='current',
                      level=30)
