# Copyright (c) mmagent contributors. All rights reserved.
"""Agent-Swin: Swin Transformer whose early stages use global agent
attention (Han et al., ECCV 2024)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleList
from mmengine.registry import MODELS

from ..layers import PatchEmbed, PatchMerging, block_kinds
from ..layers.padding import (next_stage_sizes, padded_sizes,
                              zero_outside_images, zero_padding)
from .base import (AttentionBackbone, OfficialLayout, backbone_init,
                   drop_path_schedule, per_stage, token_map)

# Softmax ('B') blocks use a window of max(7, window_size // 8): the official
# configs pass window_size=56, the (unused) window of the agent blocks.
MIN_SOFTMAX_WINDOW = 7


class AgentSwinStage(BaseModule):
    """Blocks of one stage, then the optional patch merging.

    Returns ``(x_down, hw_down, x, hw)`` like the official ``BasicLayer``:
    ``x`` is the stage output before merging. ``valid_hw`` (each image's
    region in a padded batch) goes to the blocks, and the padded tokens are
    zeroed before merging, as the zero padding of an odd-sized image alone.
    """

    def __init__(self, blocks: Sequence[nn.Module],
                 downsample: Optional[nn.Module] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.blocks = ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int],
                valid_hw=None):
        for block in self.blocks:
            x = block(x, hw_shape, valid_hw)
        x = zero_padding(x, hw_shape, valid_hw)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, hw_down = self.downsample(x, hw_shape)
        return x_down, hw_down, x, hw_shape


@MODELS.register_module()
class AgentSwinTransformer(AttentionBackbone):
    """Agent-Swin backbone from `Agent Attention
    <https://arxiv.org/abs/2312.08874>`_.

    Swin Transformer in which the blocks marked ``'A'`` by ``attn_type`` are
    global (unwindowed, unshifted) agent attention and ``'B'`` blocks are
    7x7 (shifted) window attention. Names and shapes follow the official
    downstream backbone (``layers.{i}.blocks.{j}``, ``norm{i}``), so its
    checkpoints load strictly; the official config dicts (``embed_dim``,
    ``img_size``, ``mlp_ratio``, ``use_checkpoint``, ``ape``, ...) are
    accepted unchanged.

    Args:
        arch (str | dict): ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'`` ...) or a
            dict with keys ``embed_dims``, ``depths``, ``num_heads``,
            ``attn_type``. Explicit values of those override the preset.
            Default: ``'t'``.
        pretrain_img_size (int): ImageNet resolution (official ``img_size``);
            sizes the row/column agent biases. Default: 224.
        patch_size (int): Patch size. Default: 4.
        in_channels (int): Input channels. Default: 3.
        window_size (int): Window of the agent blocks (unused, they are
            global); softmax blocks use ``max(7, window_size // 8)``.
            Default: 56.
        mlp_ratio (float): MLP expansion. Default: 4.
        qkv_bias (bool): Bias in qkv projections. Default: True.
        qk_scale (float, optional): Override of the window attention scale.
        drop_rate, attn_drop_rate (float): Dropout rates. Default: 0.
        drop_path_rate (float): Stochastic depth, linear over all blocks.
            Default: 0.1.
        agent_num (Sequence[int]): ImageNet agents per stage.
        downstream_agent_shapes (Sequence[tuple]): Agent grid per stage.
            Default: ``[(9, 9), (12, 12), (14, 14), (7, 7)]``.
        kernel_size (int): DWC kernel. Default: 3.
        scale (float): Agent attention scale exponent. Default: -0.5.
        ape (bool): Absolute position embedding; not part of any Agent-Swin
            model, only ``False`` is supported.
        patch_norm (bool): LayerNorm after the patch embedding.
        pad_small_map (bool): ``True`` (downstream, official detection and
            segmentation code) shifts every odd window block; ``False``
            (classification) leaves a map that fits in one window unshifted,
            as the official ImageNet model does in its 7x7 last stage.
            Default: True.
        out_indices (Sequence[int]): Stages to output, each normalized by its
            own ``norm{i}``. Default: (0, 1, 2, 3).
        frozen_stages (int): ``-1`` nothing, ``0`` the patch embedding,
            ``k >= 1`` also stages ``1..k`` with their merging and output
            norms (mmdet's convention).
        norm_eval (bool): Normalization layers stay in eval mode.
        with_cp (bool): Gradient checkpointing (official
            ``use_checkpoint``). Default: False.
        exact (bool): Reference operation order instead of the fast path.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            accepts official ImageNet (``{'model': ...}``), official or
            mmengine detection/segmentation checkpoints and state dicts.

    Shapes:
        - input: ``(B, in_channels, H, W)``, any size (padded to multiples
          of the patch and windows).
        - output: tuple of ``(B, C * 2**i, ceil(H / 4 / 2**i), ...)`` for
          ``i in out_indices``.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
            attn_type='AAAB')),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
            attn_type='AABB')),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
            attn_type='AAMB2')),
    }
    softmax_attention = 'window'
    takes_valid_sizes = True
    # ImageNet checkpoints have no per-output norms; some converters drop the
    # (deterministic) relative position index buffers.
    optional_keys = (r'norm\d+\.(weight|bias)',
                     r'.*relative_position_index')
    # stages ``layers.{i}`` from 0; the shift masks are buffers the blocks
    # compute for the input at hand
    official_layout = OfficialLayout(
        'Swin', marker=r'layers\.\d+\.', stage_key=r'layers\.(\d+)\.',
        unused=(r'.*\.attn_mask$', ))

    @backbone_init(
        aliases=dict(img_size='pretrain_img_size', in_chans='in_channels',
                     embed_dim='embed_dims', use_checkpoint='with_cp'),
        ignored=('num_classes', ))
    def __init__(self,
                 arch='t',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 attn_type: Optional[str] = None,
                 pretrain_img_size: int = 224,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 window_size: int = 56,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 agent_num: Sequence[int] = (9, 16, 49, 49),
                 downstream_agent_shapes: Sequence[Tuple[int, int]] = (
                     (9, 9), (12, 12), (14, 14), (7, 7)),
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 ape: bool = False,
                 patch_norm: bool = True,
                 pad_small_map: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        if ape:
            raise NotImplementedError(
                'ape=True: no Agent-Swin model uses an absolute position '
                'embedding; set ape=False')
        settings = self.resolve_settings(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            attn_type=attn_type)
        depths = list(settings['depths'])
        n = len(depths)
        num_heads = per_stage('num_heads', settings['num_heads'], n)
        agent_num = per_stage('agent_num', agent_num, n)
        agent_shapes = per_stage('downstream_agent_shapes',
                                 downstream_agent_shapes, n)
        self.check_args(n, dict(embed_dims=settings['embed_dims'],
                                depths=depths, num_heads=num_heads,
                                window_size=window_size,
                                agent_num=agent_num))
        kinds = block_kinds(settings['attn_type'], depths,
                            self.softmax_attention)
        self.arch_settings = settings
        self.num_stages = n
        self.embed_dims = settings['embed_dims']
        self.num_features = [self.embed_dims * 2**i for i in range(n)]
        softmax_window = max(MIN_SOFTMAX_WINDOW, window_size // 8)

        self.patch_embed = PatchEmbed(
            in_channels, self.embed_dims, patch_size, pad_input=True,
            norm=patch_norm)
        self.pos_drop = nn.Dropout(drop_rate)

        drop_paths = drop_path_schedule(drop_path_rate, depths)
        self.layers = ModuleList()
        for i in range(n):
            dims = self.num_features[i]
            # Pretraining token grid of this stage: 56, 28, 14, 7 at 224.
            grid = pretrain_img_size // patch_size // 2**i
            context = self.stage_context(
                embed_dims=dims, num_heads=num_heads[i],
                pretrain_hw=(grid, grid), fused_qkv=True,
                window_size=softmax_window, agent_num=agent_num[i],
                agent_shape=agent_shapes[i], pad_small_map=pad_small_map)
            # Agent blocks are global (never windowed or shifted); odd
            # window blocks shift, counting agent blocks too.
            blocks = self.build_stage(
                kinds[i], context, drop_paths[i],
                lambda j, kind: dict(shift_size=softmax_window // 2
                                     if j % 2 else 0),
                mlp_ratio=mlp_ratio, norm_cfg=dict(type='LN'))
            downsample = PatchMerging(dims) if i < n - 1 else None
            self.layers.append(AgentSwinStage(blocks, downsample))
        self.add_output_norms(self.num_features)
        self.finish_building(n)

    def _stem_parts(self):
        return [self.patch_embed]

    def _stage_parts(self, index: int):
        parts = [self.layers[index]]
        if hasattr(self, f'norm{index}'):
            parts.append(getattr(self, f'norm{index}'))
        return parts

    def forward(self, x: torch.Tensor,
                valid_sizes=None) -> Tuple[torch.Tensor, ...]:
        """``valid_sizes``: each image's ``(h, w)`` in a batch padded
        right/bottom (the detectors and segmentors of
        :mod:`mmagent.models.dense` pass their data samples'
        ``img_shape``); outputs are then zero on padding. Focused linear
        stages keep the padded tokens out of their sums; window softmax
        stages see them, as in mmdet's Swin (see
        :mod:`~mmagent.models.layers.padding`)."""
        sizes = valid_sizes
        x, hw = self.patch_embed(zero_outside_images(x, sizes))
        sizes, _ = next_stage_sizes(sizes, self.patch_embed, hw)
        x = self.pos_drop(x)
        outs = []
        for i, stage in enumerate(self.layers):
            valid = padded_sizes(sizes, hw)
            x, hw_next, out, out_hw = stage(x, hw, valid)
            if sizes is not None:  # merging: ceil, odd sizes zero-padded
                sizes = [(-(-h // 2), -(-w // 2)) for h, w in sizes]
            if i in self.out_indices:
                out = zero_padding(getattr(self, f'norm{i}')(out), out_hw,
                                   valid)
                outs.append(token_map(out, out_hw))
            hw = hw_next
        return tuple(outs)
