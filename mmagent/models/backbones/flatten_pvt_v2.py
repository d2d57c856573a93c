# Copyright (c) mmagent contributors. All rights reserved.
"""The PVTv2 family (Wang et al., "PVT v2", CVMJ 2022) with FLatten's
focused linear attention (FLatten-Transformer ``models/flatten_pvt_v2.py``):
overlapping patch embeddings, a depth-wise conv inside every MLP, a norm at
the end of every stage and no absolute position embedding."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import ModuleList
from mmengine.registry import MODELS

from ..layers import PatchEmbed, block_kinds
from ..layers.padding import (image_sizes, next_stage_sizes,
                              zero_outside_images, zero_padding)
from .base import (AttentionBackbone, accepts_official_kwargs,
                   check_common_args, per_stage, resolve_arch,
                   stage_digits)
from .flatten import with_focusing_factor


@MODELS.register_module()
class FLattenPVTv2(AttentionBackbone):
    """FLatten-PVTv2 backbone from `FLatten Transformer
    <https://arxiv.org/abs/2308.00442>`_ on `PVT v2
    <https://arxiv.org/abs/2106.13797>`_.

    Module and parameter names are the official ones (``patch_embed{i}``,
    ``block{i}.{j}``, ``norm{i}``, ``mlp.dwconv.dwconv``), so official
    checkpoints load after the converter, and the official keyword arguments
    (``img_size``, ``in_chans``, ``num_classes``, ``la_sr_ratios``,
    ``focusing_factor``, ``kernel_size`` ...) are accepted unchanged.

    Args:
        arch (str | dict): ``'b0'`` ... ``'b4'`` or a dict with keys
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``;
            explicit values of those kwargs override it. Default: ``'b1'``.
        pretrain_img_size (int): ImageNet resolution (official
            ``img_size``); sizes the focused linear ``positional_encoding``
            (56/28/14/7 grids at 224). Default: 224.
        in_channels (int): Input channels (official ``in_chans``).
        qkv_bias (bool): Bias in the q/kv projections. Default: True.
        drop_rate (float): Dropout in the MLPs and after the attention
            projections. Default: 0.
        attn_drop_rate (float): Attention dropout (softmax stages).
        drop_path_rate (float): Stochastic depth, linear over all blocks.
            Default: 0.1.
        attn_type (str): Per-stage codes: ``'L'`` focused linear, ``'S'``
            spatial-reduction softmax (``'M<k>'`` mixes). Default:
            ``'LLLL'`` (every released model).
        sr_ratios (Sequence[int]): Reduction of the softmax stages.
            Default: (8, 4, 2, 1).
        la_sr_ratios (str): Reduction of the focused linear stages, one
            digit per stage. Default: ``'1111'`` (global).
        focusing_factor (float): The power ``p``. Default: 3.
        kernel_size (int): DWC kernel of the focused linear blocks.
            Default: 5.
        out_indices (Sequence[int]): Stages to output. Default: (0, 1, 2, 3).
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stage-1 patch
            embedding, ``k >= 1`` stages ``1..k`` (embedding, blocks, norm).
        norm_eval (bool): Norm layers in eval mode while training.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        exact (bool): The official operation order. Default: False.
        attn_cfgs (dict, optional): Extra arguments per attention kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained', ...)``.

    Shapes:
        - input: ``(B, in_channels, H, W)``, any size >= 32.
        - output: tuple of ``(B, C_i, ceil(H / s_i), ceil(W / s_i))`` for
          ``i in out_indices``, strides 4, 8, 16, 32 (each after its stage's
          norm ``norm{i + 1}``).
    """
    num_stages = 4
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
    softmax_attention = 'spatial_reduction'

    @accepts_official_kwargs(
        aliases=dict(img_size='pretrain_img_size', in_chans='in_channels',
                     use_checkpoint='with_cp'),
        ignored=('num_classes', 'qk_scale', 'patch_size', 'num_stages'))
    def __init__(self,
                 arch='b1',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 pretrain_img_size: int = 224,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 attn_type: str = 'LLLL',
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 la_sr_ratios: str = '1111',
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 exact: bool = False,
                 attn_cfgs: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            init_cfg=init_cfg, pretrained=pretrained,
            attn_cfgs=with_focusing_factor(attn_cfgs, focusing_factor))
        settings = resolve_arch(
            'FLattenPVTv2', arch, self.arch_zoo,
            dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                 mlp_ratios=mlp_ratios))
        n = self.num_stages
        embed_dims = per_stage('embed_dims', settings['embed_dims'], n)
        depths = per_stage('depths', settings['depths'], n)
        num_heads = per_stage('num_heads', settings['num_heads'], n)
        mlp_ratios = per_stage('mlp_ratios', settings['mlp_ratios'], n)
        sr_ratios = per_stage('sr_ratios', sr_ratios, n)
        check_common_args(
            n, out_indices, frozen_stages, pretrain_img_size, 4, in_channels,
            dict(drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                 drop_path_rate=drop_path_rate), kernel_size, [1] * n,
            [(1, 1)] * n,
            dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                 sr_ratios=sr_ratios))
        linear_sr = stage_digits('la_sr_ratios', la_sr_ratios, n)
        kinds = block_kinds(attn_type, depths, self.softmax_attention)
        self.arch_settings = dict(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratios=mlp_ratios, attn_type=attn_type)
        self.embed_dims = embed_dims
        self.pretrain_img_size = pretrain_img_size
        self.exact = exact

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        in_dims = in_channels
        for i in range(n):
            stride = 4 if i == 0 else 2
            grid = pretrain_img_size // 4 // 2**i
            self.add_module(
                f'patch_embed{i + 1}',
                PatchEmbed(in_dims, embed_dims[i], stride, pad_input=False,
                           kernel_size=7 if i == 0 else 3))
            context = dict(
                embed_dims=embed_dims[i], num_heads=num_heads[i],
                pretrain_hw=(grid, grid), fused_qkv=False, qkv_bias=qkv_bias,
                attn_drop=attn_drop_rate, proj_drop=drop_rate, exact=exact,
                kernel_size=kernel_size)
            blocks = ModuleList(
                self.build_block(
                    kind,
                    dict(context, sr_ratio=sr_ratios[i] if kind ==
                         self.softmax_attention else linear_sr[i]),
                    mlp_ratio=mlp_ratios[i], drop=drop_rate,
                    drop_path=dpr[sum(depths[:i]) + j],
                    norm_cfg=dict(type='LN', eps=1e-6), with_cp=with_cp,
                    mlp_dwconv=True) for j, kind in enumerate(kinds[i]))
            self.add_module(f'block{i + 1}', blocks)
            self.add_module(f'norm{i + 1}', nn.LayerNorm(embed_dims[i],
                                                         eps=1e-6))
            in_dims = embed_dims[i]

        self.apply(self._init_linear_and_norm)
        self._setup_outputs(n, out_indices, frozen_stages, norm_eval)

    def _stem_parts(self):
        return [self.patch_embed1]

    def _stage_parts(self, index: int):
        i = index + 1
        parts = [getattr(self, f'block{i}'), getattr(self, f'norm{i}')]
        if i > 1:
            parts.append(getattr(self, f'patch_embed{i}'))
        return parts

    def forward(self, x: torch.Tensor,
                valid_sizes=None) -> Tuple[torch.Tensor, ...]:
        """``valid_sizes``: each image's ``(h, w)`` in a batch padded
        right/bottom (default: those recorded on ``x`` by mmagent's data
        preprocessors); outputs are then zero on padding, which the next
        overlapping patch embedding sees as an image alone's zero padding
        (see :mod:`~mmagent.models.layers.padding`)."""
        sizes = image_sizes(x) if valid_sizes is None else valid_sizes
        x = zero_outside_images(x, sizes)
        outs = []
        for i in range(1, self.num_stages + 1):
            patch_embed = getattr(self, f'patch_embed{i}')
            x, hw = patch_embed(x)
            sizes, valid = next_stage_sizes(sizes, patch_embed, hw)
            for block in getattr(self, f'block{i}'):
                x = block(x, hw, valid)
            x = zero_padding(getattr(self, f'norm{i}')(x), hw, valid)
            x = x.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2).contiguous()
            if i - 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)
