# Copyright (c) mmagent contributors. All rights reserved.
"""The FLatten Transformer models (Han et al., ICCV 2023): the same families
with focused linear attention (stage code ``'L'``) where the official
models use it, and the official FLatten keyword arguments
(``focusing_factor``, ``kernel_size``, ``la_sr_ratios``).

They add no module of their own (PVT v2 is PVT with four flags):
``FLattenPVT(...)`` is
``AgentPVT(attn_type='LLLL', kernel_size=5, attn_cfgs=dict(focused_linear=
dict(focusing_factor=3)), ...)``, and the parameter names are the official
FLatten ones, so official checkpoints load after the converter.
"""
from typing import Optional

from mmengine.registry import MODELS

from ..layers import ATTENTIONS
from .agent_cswin import AgentCSWin
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .base import OfficialLayout

KIND = 'focused_linear'


def with_focusing_factor(attn_cfgs: Optional[dict],
                         focusing_factor: float) -> dict:
    """``attn_cfgs`` with ``focusing_factor`` for the focused linear kind
    (an explicit ``attn_cfgs`` value wins)."""
    attn_cfgs = {k: dict(v) for k, v in (attn_cfgs or {}).items()}
    attn_cfgs.setdefault(KIND, {}).setdefault('focusing_factor',
                                              focusing_factor)
    return attn_cfgs


@MODELS.register_module()
class FLattenPVT(AgentPVT):
    """FLatten-PVT (PVT v1 with focused linear attention).

    Takes every argument of :class:`AgentPVT` with FLatten's defaults, and
    FLatten's official names.

    Args:
        attn_type (str): Per-stage codes, ``'L'`` focused linear, ``'S'``
            softmax. Default: ``'LLLL'`` (every released model).
        kernel_size (int): DWC kernel of the focused linear blocks.
            Default: 5.
        focusing_factor (float): The power ``p`` of the focused map.
            Default: 3.
        la_sr_ratios (str): Spatial reduction of the ``'L'`` stages, one
            digit per stage; the released models use ``'1111'`` (global).
            With a digit > 1, V is resized back to the query map as a 2-D
            map before the DWC (the official code resamples the flattened
            sequence in 1-D).

    The FLatten arguments are keyword-only; positional ones go to
    :class:`AgentPVT` (``arch`` first).
    """
    agent_sr_name = 'la_sr_ratios'

    def __init__(self,
                 *args,
                 attn_type: str = 'LLLL',
                 kernel_size: int = 5,
                 focusing_factor: float = 3,
                 la_sr_ratios: str = '1111',
                 attn_cfgs: Optional[dict] = None,
                 **kwargs):
        if 'agent_sr_ratios' in kwargs:
            raise TypeError('FLattenPVT takes la_sr_ratios, not '
                            'agent_sr_ratios')
        super().__init__(
            *args, attn_type=attn_type, kernel_size=kernel_size,
            agent_sr_ratios=la_sr_ratios,
            attn_cfgs=with_focusing_factor(attn_cfgs, focusing_factor),
            **kwargs)


# PVT v2 is PVT with these flags (mmdet's PVTv2 is written the same way).
PVT_V2_FLAGS = dict(use_abs_pos_embed=False, overlapping_patch_embed=True,
                    use_conv_ffn=True, norm_after_stage=True)


@MODELS.register_module()
class FLattenPVTv2(FLattenPVT):
    """FLatten-PVTv2 (`PVT v2 <https://arxiv.org/abs/2106.13797>`_ with
    focused linear attention): :class:`FLattenPVT` with overlapping patch
    embeddings, a depth-wise conv inside every MLP, a norm at the end of
    every stage and no absolute position embedding.

    Takes every argument of :class:`FLattenPVT` but those four flags, with
    the PVTv2 presets ``'b0'`` ... ``'b4'`` (default ``'b1'``). Module and
    parameter names are the official ones (``patch_embed{i}``,
    ``block{i}.{j}``, ``norm{i}``, ``mlp.dwconv.dwconv``), so official
    checkpoints load after the converter; the official ``patch_size`` is
    accepted and ignored, as officially (the stem is a 7x7 stride-4 conv).

    Shapes:
        - output: tuple of ``(B, C_i, ceil(H / s_i), ceil(W / s_i))`` for
          ``i in out_indices``, strides 4, 8, 16, 32, each after its
          stage's norm ``norm{i + 1}``.
    """
    arch_zoo = {
        'b0': dict(embed_dims=[32, 64, 160, 256], depths=[2, 2, 2, 2],
                   num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
        'b1': dict(embed_dims=[64, 128, 320, 512], depths=[2, 2, 2, 2],
                   num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
        'b2': dict(embed_dims=[64, 128, 320, 512], depths=[3, 4, 6, 3],
                   num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
        'b3': dict(embed_dims=[64, 128, 320, 512], depths=[3, 4, 18, 3],
                   num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
        'b4': dict(embed_dims=[64, 128, 320, 512], depths=[3, 8, 27, 3],
                   num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
    }

    # no position embeddings; a norm per stage (norm{i}), no final one
    official_layout = OfficialLayout('PVT v2', marker=r'patch_embed1\.')

    def __init__(self, arch='b1', *args, patch_size=None, **kwargs):
        fixed = sorted(set(PVT_V2_FLAGS) & set(kwargs))
        if fixed:
            raise TypeError(f'FLattenPVTv2 fixes {fixed[0]}; FLattenPVT '
                            f'takes the four PVT v2 flags one by one')
        super().__init__(arch, *args, **PVT_V2_FLAGS, **kwargs)


@MODELS.register_module()
class FLattenSwinTransformer(AgentSwinTransformer):
    """FLatten-Swin: focused linear attention in the first two stages,
    global (the official ``window_size=56`` makes them global at 224;
    here they are global at every input size), shifted-window softmax
    attention in the others.

    Takes every argument of :class:`AgentSwinTransformer` with FLatten's
    defaults; the FLatten arguments are keyword-only.

    Args:
        attn_type (str, optional): Per-stage codes, ``'L'`` focused linear,
            ``'S'`` window softmax; by default the arch's (``'LLSS'`` for
            every released model).
        kernel_size (int): DWC kernel of the focused linear blocks.
            Default: 5.
        focusing_factor (float): The power ``p``. Default: 3.

    The official code windows an ``'L'`` stage whose map is larger than
    ``window_size`` (the released models never do: 56 at 224, 96 at 384);
    here ``'L'`` stages are global, so such a ``window_size`` is refused
    rather than silently changing the model.
    """
    arch_zoo = {
        name: dict(settings, attn_type='LLSS')
        for name, settings in AgentSwinTransformer.arch_zoo.items()
    }

    def __init__(self,
                 *args,
                 attn_type: Optional[str] = None,
                 kernel_size: int = 5,
                 focusing_factor: float = 3,
                 attn_cfgs: Optional[dict] = None,
                 **kwargs):
        super().__init__(
            *args, attn_type=attn_type, kernel_size=kernel_size,
            attn_cfgs=with_focusing_factor(attn_cfgs, focusing_factor),
            **kwargs)
        patch_size = self.init_args['patch_size']
        grids = [self.pretrain_img_size // patch_size // 2**i
                 for i in range(self.num_stages)]
        window = self.init_args['window_size']
        focused_linear = ATTENTIONS.get('focused_linear')
        for i, stage in enumerate(self.layers):
            linear = any(
                isinstance(block.attn, focused_linear)
                for block in stage.blocks)
            if linear and window < grids[i]:
                raise NotImplementedError(
                    f'window_size={window} is smaller than the {grids[i]}x'
                    f'{grids[i]} pretraining map of focused linear stage '
                    f'{i + 1}: the official code would window it, mmagent\'s '
                    f'focused linear stages are global; use a window_size '
                    f'of at least {grids[i]}')


@MODELS.register_module()
class FLattenCSWin(AgentCSWin):
    """FLatten-CSWin: focused linear attention over the whole map in the
    first two stages, with CSWin's LePE (``get_v``) beside the 5x5 DWC;
    cross-shaped stripe softmax attention in the others.

    Takes every argument of :class:`AgentCSWin` with FLatten's defaults and
    presets (FLatten-CSWin-S is deeper than Agent-CSWin-S: 2/4/32/2); the
    FLatten arguments are keyword-only. ``la_split_size`` must give the
    whole map of each focused linear stage, as every released model does
    (the official code crashes with smaller windows since its fix of
    2024-05-28).

    Args:
        kernel_size (int): DWC kernel of the focused linear blocks.
            Default: 5.
        focusing_factor (float): The power ``p``. Default: 3.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=64, depths=[2, 4, 18, 1], num_heads=[2, 4, 8, 16],
            split_size=[1, 2, 7, 7], attn_type='LLSS')),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=64, depths=[2, 4, 32, 2], num_heads=[2, 4, 8, 16],
            split_size=[1, 2, 7, 7], attn_type='LLSS')),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=96, depths=[3, 6, 29, 2], num_heads=[4, 8, 16, 32],
            split_size=[1, 2, 7, 7], attn_type='LLSS')),
    }

    def __init__(self,
                 *args,
                 kernel_size: int = 5,
                 focusing_factor: float = 3,
                 attn_cfgs: Optional[dict] = None,
                 **kwargs):
        super().__init__(
            *args, kernel_size=kernel_size,
            attn_cfgs=with_focusing_factor(attn_cfgs, focusing_factor),
            **kwargs)
