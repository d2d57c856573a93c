# Copyright (c) mmagent contributors. All rights reserved.
"""Agent-CSWin: CSWin Transformer whose early stages use global agent
attention (Han et al., ECCV 2024)."""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleList
from mmengine.registry import MODELS

from ..layers import ATTENTIONS, TransformerBlock, block_kinds
from ..layers.attention import init_parameters
from .base import (AttentionBackbone, OfficialLayout, backbone_init,
                   drop_path_schedule, per_stage, token_map)

# The official stem is a fixed 7x7 stride-4 conv (its patch_size is unused).
STEM_STRIDE = 4


def takes_qkv(kind: str) -> bool:
    """Whether the attention ``kind`` is called on the block's ``(q, k, v)``
    triple (``'stripe'``, and ``'agent'`` with ``fused_qkv=None``) rather
    than on the normalized tokens with its own projections."""
    cls = ATTENTIONS.get(kind)
    return getattr(cls, 'takes_qkv', False) or \
        'fused_qkv' in init_parameters(cls)


class TokensFromMap(nn.Module):
    """``(B, C, H, W)`` -> ``(B, H*W, C)`` (the official stem's
    ``Rearrange``, which holds no weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class MergeBlock(BaseModule):
    """Official ``Merge_Block``: ``Conv2d(C, 2C, 3, stride 2, padding 1)``
    on the token map, then ``LayerNorm(2C)``.

    Shapes: ``(B, H*W, C)``, ``(H, W)`` -> ``(B, H'*W', 2C)``, ``(H', W')``
    with ``H' = ceil(H / 2)``.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]):
        B, _, C = x.shape
        x = self.conv(x.transpose(1, 2).reshape(B, C, *hw_shape))
        hw = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


@MODELS.register_module()
class AgentCSWin(AttentionBackbone):
    """Agent-CSWin backbone from `Agent Attention
    <https://arxiv.org/abs/2312.08874>`_.

    CSWin Transformer in which the blocks marked ``'A'`` by ``attn_type``
    are global agent attention over the whole map (LePE's ``get_v`` conv is
    their DWC) and ``'B'`` blocks are CSWin's cross-shaped window attention:
    half the heads in vertical stripes ``split_size`` wide, half in
    horizontal stripes, each with LePE (kind ``'stripe'``); blocks of the
    last stage, or of a stage whose pretraining grid equals its
    ``split_size``, attend the whole map with all heads. Names and shapes
    follow the official classifier (``stage1_conv_embed``,
    ``stage{i}.{j}.attns.{k}``, ``merge{i}``), so official ImageNet
    checkpoints load; the official constructor kwargs (``img_size``,
    ``embed_dim``, ``depth``, ``la_split_size``, ``use_chk``, ...) are
    accepted unchanged.

    Args:
        arch (str | dict): ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'`` ...) or a
            dict with keys ``embed_dims``, ``depths``, ``num_heads``,
            ``split_size``, ``attn_type``. Explicit values of those override
            the preset. Default: ``'t'``.
        split_size (Sequence[int]): Stripe width of the softmax blocks per
            stage; ``[1, 2, 7, 7]`` at 224, ``[1, 2, 12, 12]`` at 384.
        la_split_size (str | Sequence[int], optional): Official agent window
            per stage (``'56-28-14-7'``). Only the whole map is supported:
            every stage but the last (which always attends the whole map)
            that has agent blocks must give its pretraining grid
            ``pretrain_img_size // 4 // 2**i``. Default: None (the grids).
        pretrain_img_size (int): ImageNet resolution (official ``img_size``);
            sizes the agent biases and decides the single-branch stages.
            Default: 224.
        patch_size (int): Must be 4 (the official stem is a fixed 7x7
            stride-4 conv). Default: 4.
        in_channels (int): Input channels. Default: 3.
        mlp_ratio (float): MLP expansion. Default: 4.
        qkv_bias (bool): Bias in the qkv projections. Default: True.
        qk_scale (float, optional): Override of the stripe attention scale
            (the official LePE attention honours it; agent blocks do not).
        drop_rate (float): Dropout in the MLPs. Default: 0.
        attn_drop_rate (float): Dropout on the attention maps. Default: 0.
        drop_path_rate (float): Stochastic depth, linear over all blocks.
            Default: 0.1.
        agent_num (Sequence[int] | str): ImageNet agents per stage.
            Default: ``(9, 16, 49, 49)``.
        downstream_agent_shapes (Sequence[tuple]): Agent grid per stage.
            Default: the native grids ``[(3, 3), (4, 4), (7, 7), (7, 7)]``.
        kernel_size (int): Kernel of the agent blocks' DWC (``get_v``); the
            stripe blocks' LePE keeps 3. Default: 3.
        scale (float): Agent attention scale exponent. Default: -0.5.
        out_indices (Sequence[int]): Stages to output, each normalized by its
            own ``norm{i}``. Default: (0, 1, 2, 3).
        frozen_stages (int): ``-1`` nothing, ``0`` the stem
            (``stage1_conv_embed``), ``k >= 1`` also stages ``1..k`` with
            their output norms and the merge *after* each of them
            (``merge{i}`` for ``i <= k``; mmdet's Swin convention).
        norm_eval (bool): Normalization layers stay in eval mode.
        with_cp (bool): Gradient checkpointing per block (official
            ``use_chk``). Default: False.
        exact (bool): Reference operation order instead of the fast path.
        attn_cfgs (dict, optional): Extra arguments per attention kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            accepts official ImageNet checkpoints (``{'model': ...}``; their
            ``norm``/``head`` are ignored), mmengine checkpoints and state
            dicts.

    Shapes:
        - input: ``(B, in_channels, H, W)``, any size ``>= 3``.
        - output: tuple of ``(B, C * 2**i, H_i, W_i)`` for ``i in
          out_indices``, ``H_0 = floor((H - 3) / 4) + 1`` (the stem) and
          ``H_{i+1} = ceil(H_i / 2)``.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=64, depths=[2, 4, 18, 1], num_heads=[2, 4, 8, 16],
            split_size=[1, 2, 7, 7], attn_type='AABB')),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=64, depths=[3, 6, 29, 2], num_heads=[2, 4, 8, 16],
            split_size=[1, 2, 7, 7], attn_type='AABB')),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=96, depths=[3, 6, 29, 2], num_heads=[4, 8, 16, 32],
            split_size=[1, 2, 7, 7], attn_type='AABB')),
    }
    softmax_attention = 'stripe'
    # ImageNet checkpoints have one final ``norm``, no per-output norms.
    optional_keys = (r'norm\d+\.(weight|bias)', )
    # stages ``stage{i}`` from 1
    official_layout = OfficialLayout(
        'CSWin', marker=r'stage\d+\.', stage_key=r'stage(\d+)\.',
        first_stage=1)

    @backbone_init(
        aliases=dict(img_size='pretrain_img_size', in_chans='in_channels',
                     embed_dim='embed_dims', depth='depths',
                     use_chk='with_cp'),
        ignored=('num_classes', 'hybrid_backbone'))
    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 split_size: Optional[Sequence[int]] = None,
                 attn_type: Optional[str] = None,
                 la_split_size: Optional[Union[str, Sequence[int]]] = None,
                 pretrain_img_size: int = 224,
                 patch_size: int = STEM_STRIDE,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 agent_num: Union[str, Sequence[int]] = (9, 16, 49, 49),
                 downstream_agent_shapes: Sequence[Tuple[int, int]] = (
                     (3, 3), (4, 4), (7, 7), (7, 7)),
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 **kwargs):
        super().__init__(**kwargs)
        settings = self.resolve_settings(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            split_size=split_size, attn_type=attn_type)
        depths = list(settings['depths'])
        n = len(depths)
        num_heads = per_stage('num_heads', settings['num_heads'], n)
        split_size = per_stage('split_size', settings['split_size'], n)
        agent_num = per_stage('agent_num', agent_num, n)
        agent_shapes = per_stage('downstream_agent_shapes',
                                 downstream_agent_shapes, n)
        if patch_size != STEM_STRIDE:
            raise ValueError(f'patch_size must be {STEM_STRIDE}: the CSWin '
                             f'stem is a fixed 7x7 stride-4 conv, got '
                             f'{patch_size!r}')
        self.check_args(n, dict(embed_dims=settings['embed_dims'],
                                depths=depths, num_heads=num_heads,
                                split_size=split_size, agent_num=agent_num))
        kinds = block_kinds(settings['attn_type'], depths,
                            self.softmax_attention)
        # Pretraining token grid of each stage: 56, 28, 14, 7 at 224.
        grids = [pretrain_img_size // STEM_STRIDE // 2**i for i in range(n)]
        la_split_size = grids if la_split_size is None else per_stage(
            'la_split_size', la_split_size, n)
        self.arch_settings = settings
        self.num_stages = n
        self.embed_dims = settings['embed_dims']
        self.num_features = [self.embed_dims * 2**i for i in range(n)]
        self.split_size = split_size

        self.stage1_conv_embed = nn.Sequential(
            nn.Conv2d(in_channels, self.embed_dims, 7, STEM_STRIDE, 2),
            TokensFromMap(), nn.LayerNorm(self.embed_dims))

        drop_paths = drop_path_schedule(drop_path_rate, depths)
        for i in range(n):
            dims, heads, grid = self.num_features[i], num_heads[i], grids[i]
            last = i == n - 1
            if i > 0:
                self.add_module(f'merge{i}',
                                MergeBlock(self.num_features[i - 1], dims))
            if any(k != self.softmax_attention for k in kinds[i]) and \
                    not last and la_split_size[i] != grid:
                raise ValueError(
                    f'la_split_size[{i}] = {la_split_size[i]} but stage {i} '
                    f'has a {grid}x{grid} pretraining grid: windowed agent '
                    f'or focused linear attention is not supported, give '
                    f'the grid '
                    f'(pretrain_img_size // 4 // 2**i: '
                    f'{"-".join(map(str, grids))})')
            # Officially one whole-map branch in the last stage or when the
            # stripe would cover the pretraining grid anyway.
            single = last or split_size[i] == grid
            if 'stripe' in kinds[i] and not single and (heads % 2 or dims % 2):
                raise ValueError(
                    f'stage {i}: stripe attention splits heads and channels '
                    f'into two branches, so num_heads ({heads}) and the '
                    f'channels ({dims}) must be even')
            context = self.stage_context(
                embed_dims=dims, num_heads=heads, pretrain_hw=(grid, grid),
                fused_qkv=None, dwc_name='get_v', lepe=True,
                agent_num=agent_num[i], agent_shape=agent_shapes[i],
                split_size=split_size[i], branch=-1)
            blocks = []
            for j, kind in enumerate(kinds[i]):
                if kind == self.softmax_attention and not single:
                    attns = [
                        self.build_attention(
                            kind, dict(context, embed_dims=dims // 2,
                                       num_heads=heads // 2, branch=b))
                        for b in (0, 1)
                    ]
                else:
                    attns = [self.build_attention(kind, context)]
                # the official block has no dropout after proj
                blocks.append(TransformerBlock(
                    dims, attns, mlp_ratio, drop=drop_rate,
                    drop_path=drop_paths[i][j], norm_cfg=dict(type='LN'),
                    with_cp=self.init_args['with_cp'],
                    qkv_bias=qkv_bias if takes_qkv(kind) else None))
            self.add_module(f'stage{i + 1}', ModuleList(blocks))

        self.add_output_norms(self.num_features)
        self.finish_building(n)

    @property
    def export_size_multiple(self) -> int:
        """Input sizes that an export with a free size serves: multiples
        of this, so that the stripes tile every stage's map (tracing the
        padded-stripe path pins the example's size)."""
        return math.lcm(*(STEM_STRIDE * 2**i * size
                          for i, size in enumerate(self.split_size)))

    def _stem_parts(self):
        return [self.stage1_conv_embed]

    def _stage_parts(self, index: int):
        parts = [getattr(self, f'stage{index + 1}')]
        # The merge after stage ``index`` (mmdet's Swin convention).
        for name in (f'merge{index + 1}', f'norm{index}'):
            if hasattr(self, name):
                parts.append(getattr(self, name))
        return parts

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        conv, to_tokens, norm = self.stage1_conv_embed
        if min(x.shape[-2:]) < 3:  # the 7x7 stem pads 2 on each side
            raise ValueError(f'AgentCSWin needs inputs of at least 3x3 '
                             f'pixels, got {tuple(x.shape[-2:])}')
        x = conv(x)
        hw = (x.shape[2], x.shape[3])
        x = norm(to_tokens(x))
        outs = []
        for i in range(self.num_stages):
            if i > 0:
                x, hw = getattr(self, f'merge{i}')(x, hw)
            for block in getattr(self, f'stage{i + 1}'):
                x = block(x, hw)
            if i in self.out_indices:
                outs.append(token_map(getattr(self, f'norm{i}')(x), hw))
        return tuple(outs)
