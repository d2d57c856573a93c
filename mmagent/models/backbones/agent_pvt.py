# Copyright (c) mmagent contributors. All rights reserved.
"""Agent-PVT: PVT v1 with agent attention (Han et al., ECCV 2024)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS

from ..layers import PatchEmbed, block_kinds
from ..layers.attention.common import resize_token_map
from ..layers.padding import (image_sizes, next_stage_sizes,
                              per_image_token_map, zero_outside_images,
                              zero_padding)
from .base import (AttentionBackbone, accepts_official_kwargs,
                   check_common_args, per_stage, resolve_arch,
                   stage_digits)


@MODELS.register_module()
class AgentPVT(AttentionBackbone):
    """Agent-PVT backbone from `Agent Attention
    <https://arxiv.org/abs/2312.08874>`_.

    A four-stage PVT v1 whose blocks use global agent attention. The module
    and parameter names are the official downstream ones, so official
    checkpoints load with ``strict=True``, and the official config dicts
    (``img_size``, ``in_chans``, ``num_classes``, ``qk_scale``,
    ``num_stages`` ...) are accepted unchanged.

    Args:
        arch (str | dict): ``'t'``, ``'s'``, ``'m'``, ``'l'`` (or ``'tiny'``
            ...) or a dict with keys ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``. Explicit values of those four
            kwargs override the preset. Default: ``'t'``.
        pretrain_img_size (int): ImageNet resolution (official ``img_size``);
            sizes ``pos_embed{i}`` and the row/column agent biases.
            Default: 224.
        patch_size (int): Patch size of stage 1; later stages use 2.
        in_channels (int): Input channels (official ``in_chans``).
        qkv_bias (bool): Bias in q/kv projections. Default: True.
        drop_rate (float): Dropout after position embeddings, in the MLPs and
            after the attention projections. Default: 0.
        attn_drop_rate (float): Attention dropout. Default: 0.
        drop_path_rate (float): Stochastic depth, linear over all blocks.
            Default: 0.1.
        attn_type (str): One code per stage (see
            :data:`~mmagent.models.layers.attention.STAGE_CODES`): ``'A'``
            agent attention, ``'L'`` focused linear attention, ``'B'`` (or
            ``'S'``) PVT spatial-reduction softmax attention. Default:
            ``'AAAA'``.
        sr_ratios (Sequence[int]): Reduction ratios of softmax stages.
        agent_sr_ratios (str): Reduction of the other stages, one digit
            each (FLatten's ``la_sr_ratios``); agent stages only have
            ``1`` downstream (the official code asserts it). Default:
            ``'1111'``.
        agent_num (Sequence[int]): ImageNet agents per stage (perfect
            squares). Default: ``[9, 16, 49, 49]``.
        downstream_agent_shapes (Sequence[tuple]): Agent grid per stage.
            Default: ``[(12, 12), (16, 16), (28, 28), (28, 28)]``.
        kernel_size (int): Kernel of the DWC on values. Default: 3.
        scale (float): Attention scale exponent (``d ** scale``).
        out_indices (Sequence[int]): Stages to output. Default: (0, 1, 2, 3).
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stage-1 patch
            and position embedding, ``k >= 1`` stages ``1..k`` entirely
            (embedding + blocks), as mmdet's ``frozen_stages``.
        norm_eval (bool): Keep normalization layers in eval mode while
            training. Default: False.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        exact (bool): Use the reference operation order of the official
            implementation instead of the fast path. Default: False.
        norm_cfg (dict): Block norms. Default: ``dict(type='LN', eps=1e-6)``.
        attn_cfgs (dict, optional): Extra arguments per attention kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads official ImageNet, official or mmengine
            detection/segmentation checkpoints and bare state dicts.

    Shapes:
        - input: ``(B, in_channels, H, W)``, H and W >= 32.
        - output: tuple of ``(B, C_i, H // s_i, W // s_i)`` for
          ``i in out_indices``, strides 4, 8, 16, 32 (floored, no padding,
          like the official PVT).
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=[64, 128, 320, 512], depths=[2, 2, 2, 2],
            num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=[64, 128, 320, 512], depths=[3, 4, 6, 3],
            num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['m', 'medium'], dict(
            embed_dims=[64, 128, 320, 512], depths=[3, 4, 18, 3],
            num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=[64, 128, 320, 512], depths=[3, 8, 27, 3],
            num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4])),
    }
    num_stages = 4
    softmax_attention = 'spatial_reduction'

    @accepts_official_kwargs(
        aliases=dict(img_size='pretrain_img_size', in_chans='in_channels',
                     use_checkpoint='with_cp'),
        ignored=('num_classes', 'qk_scale'))
    def __init__(self,
                 arch='t',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 pretrain_img_size: int = 224,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 attn_type: str = 'AAAA',
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 agent_sr_ratios: str = '1111',
                 agent_num: Sequence[int] = (9, 16, 49, 49),
                 downstream_agent_shapes: Sequence[Tuple[int, int]] = (
                     (12, 12), (16, 16), (28, 28), (28, 28)),
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 num_stages: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 exact: bool = False,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 attn_cfgs: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg, pretrained=pretrained,
                         attn_cfgs=attn_cfgs)
        if num_stages != self.num_stages:
            raise ValueError(f'AgentPVT has 4 stages, got num_stages='
                             f'{num_stages}')
        settings = resolve_arch(
            'AgentPVT', arch, self.arch_zoo,
            dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                 mlp_ratios=mlp_ratios))
        n = self.num_stages
        embed_dims = per_stage('embed_dims', settings['embed_dims'], n)
        depths = per_stage('depths', settings['depths'], n)
        num_heads = per_stage('num_heads', settings['num_heads'], n)
        mlp_ratios = per_stage('mlp_ratios', settings['mlp_ratios'], n)
        sr_ratios = per_stage('sr_ratios', sr_ratios, n)
        agent_num = per_stage('agent_num', agent_num, n)
        agent_shapes = per_stage('downstream_agent_shapes',
                                 downstream_agent_shapes, n)
        check_common_args(
            n, out_indices, frozen_stages, pretrain_img_size, patch_size,
            in_channels,
            dict(drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                 drop_path_rate=drop_path_rate), kernel_size, agent_num,
            agent_shapes,
            dict(embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                 sr_ratios=sr_ratios))
        kinds = block_kinds(attn_type, depths, self.softmax_attention)
        agent_sr = stage_digits('agent_sr_ratios (la_sr_ratios)',
                                agent_sr_ratios, n)
        if any(r != 1 for r, stage in zip(agent_sr, kinds)
               if 'agent' in stage):
            raise NotImplementedError(
                f'agent_sr_ratios={agent_sr_ratios!r}: the downstream '
                f'Agent-PVT only defines agent blocks without spatial '
                f"reduction; use '1111'")
        self.arch_settings = dict(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratios=mlp_ratios, attn_type=attn_type)
        self.embed_dims = embed_dims
        self.pretrain_img_size = pretrain_img_size
        self.exact = exact

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        # Pretraining token grid per stage: 56, 28, 14, 7 at 224.
        self.pos_grids = [pretrain_img_size // patch_size // 2**i
                          for i in range(n)]
        in_dims = in_channels
        for i in range(n):
            stride = patch_size if i == 0 else 2
            grid = self.pos_grids[i]
            self.add_module(f'patch_embed{i + 1}',
                            PatchEmbed(in_dims, embed_dims[i], stride,
                                       pad_input=False))
            pos_embed = nn.Parameter(torch.zeros(1, grid * grid,
                                                 embed_dims[i]))
            trunc_normal_(pos_embed, std=.02)
            setattr(self, f'pos_embed{i + 1}', pos_embed)
            self.add_module(f'pos_drop{i + 1}', nn.Dropout(drop_rate))
            context = dict(
                embed_dims=embed_dims[i], num_heads=num_heads[i],
                pretrain_hw=(grid, grid), fused_qkv=False, qkv_bias=qkv_bias,
                attn_drop=attn_drop_rate, proj_drop=drop_rate, exact=exact,
                agent_num=agent_num[i],
                agent_shape=agent_shapes[i], kernel_size=kernel_size,
                scale=scale)
            blocks = ModuleList(
                self.build_block(
                    kind,
                    dict(context, sr_ratio=sr_ratios[i] if kind ==
                         self.softmax_attention else agent_sr[i]),
                    mlp_ratio=mlp_ratios[i], drop=drop_rate,
                    drop_path=dpr[sum(depths[:i]) + j], norm_cfg=norm_cfg,
                    with_cp=with_cp) for j, kind in enumerate(kinds[i]))
            self.add_module(f'block{i + 1}', blocks)
            in_dims = embed_dims[i]

        self.apply(self._init_linear_and_norm)
        self._setup_outputs(n, out_indices, frozen_stages, norm_eval)

    def _stem_parts(self):
        return [self.patch_embed1, self.pos_embed1]

    def _stage_parts(self, index: int):
        i = index + 1
        parts = [getattr(self, f'block{i}')]
        if i > 1:
            parts += [getattr(self, f'patch_embed{i}'),
                      getattr(self, f'pos_embed{i}')]
        return parts

    def _pos_embed(self, stage: int, hw: Tuple[int, int],
                   valid_hw=None) -> torch.Tensor:
        """``pos_embed{stage}`` for an ``(H, W)`` map, ``(1, H*W, C)``, or
        with ``valid_hw`` each image's own region: ``(B, H*W, C)``.

        Resized (bilinear, align_corners=False) only when the map differs
        from the stage's own pretraining grid. The official code compares
        ``H*W`` with stage 1's patch count for every stage, which crashes
        when a later stage has 3136 tokens (e.g. a 512x1568 input).
        """
        grid = self.pos_grids[stage - 1]
        pos_embed = getattr(self, f'pos_embed{stage}')
        if valid_hw is not None:
            return per_image_token_map(pos_embed, (grid, grid), valid_hw, hw)
        return resize_token_map(pos_embed, (grid, grid), tuple(hw))

    def forward(self, x: torch.Tensor,
                valid_sizes=None) -> Tuple[torch.Tensor, ...]:
        """``valid_sizes``: each image's ``(h, w)`` in a batch padded
        right/bottom (default: those recorded on ``x`` by mmagent's data
        preprocessors); outputs are then zero on padding (see
        :mod:`~mmagent.models.layers.padding`)."""
        sizes = image_sizes(x) if valid_sizes is None else valid_sizes
        x = zero_outside_images(x, sizes)
        outs = []
        for i in range(1, self.num_stages + 1):
            patch_embed = getattr(self, f'patch_embed{i}')
            x, hw = patch_embed(x)
            sizes, valid = next_stage_sizes(sizes, patch_embed, hw)
            x = getattr(self, f'pos_drop{i}')(
                x + self._pos_embed(i, hw, valid))
            for block in getattr(self, f'block{i}'):
                x = block(x, hw, valid)
            x = zero_padding(x, hw, valid)
            x = x.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2).contiguous()
            if i - 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)
