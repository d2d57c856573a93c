# Copyright (c) mmagent contributors. All rights reserved.
"""Agent-PVT: PVT v1 with agent attention (Han et al., ECCV 2024), and with
four flags PVT v2 (Wang et al., CVMJ 2022), as mmdet writes it."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS

from ..layers import PatchEmbed, block_kinds
from ..layers.attention.common import resize_token_map
from ..layers.padding import (next_stage_sizes,
                              per_image_token_map, zero_outside_images,
                              zero_padding)
from .base import (AttentionBackbone, OfficialLayout, backbone_init,
                   drop_path_schedule, per_stage, token_map)


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
        use_abs_pos_embed (bool): Learned position embeddings
            ``pos_embed{i}`` (and dropout) after each patch embedding.
            Default: True.
        overlapping_patch_embed (bool): Patch embeddings whose kernel
            overlaps (``2 * stride - 1``: 7x7 then 3x3, zero padded, so
            outputs are ``ceil(H / s_i)``). Default: False.
        use_conv_ffn (bool): A 3x3 depth-wise conv inside every MLP
            (``mlp.dwconv.dwconv``). Default: False.
        norm_after_stage (bool): A LayerNorm ``norm{i}`` at the end of
            every stage. Default: False. The three last flags with
            ``use_abs_pos_embed=False`` make PVT v2
            (:class:`~mmagent.models.backbones.FLattenPVTv2`).
        attn_cfgs (dict, optional): Extra arguments per attention kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads official ImageNet, official or mmengine
            detection/segmentation checkpoints and bare state dicts.

    Shapes:
        - input: ``(B, in_channels, H, W)``, H and W >= 32.
        - output: tuple of ``(B, C_i, H // s_i, W // s_i)`` for
          ``i in out_indices``, strides 4, 8, 16, 32 (``ceil(H / s_i)``
          with ``overlapping_patch_embed``; else floored, no padding,
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
    takes_valid_sizes = True
    # FLatten-PVT's official classifiers keep a final norm their forward
    # never applies (the line is commented out); Agent-PVT's have none.
    official_layout = OfficialLayout('PVT v1', marker=r'pos_embed1$',
                                     unused=(r'norm\.', ))
    #: The official name of the reduction of the agent / focused linear
    #: stages, in errors.
    agent_sr_name = 'agent_sr_ratios (la_sr_ratios)'

    @backbone_init(
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
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 use_abs_pos_embed: bool = True,
                 overlapping_patch_embed: bool = False,
                 use_conv_ffn: bool = False,
                 norm_after_stage: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        if num_stages != self.num_stages:
            raise ValueError(f'{type(self).__name__} has 4 stages, got '
                             f'num_stages={num_stages}')
        settings = self.resolve_settings(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratios=mlp_ratios)
        n = self.num_stages
        embed_dims, depths, num_heads, mlp_ratios = (
            per_stage(key, settings[key], n)
            for key in ('embed_dims', 'depths', 'num_heads', 'mlp_ratios'))
        sr_ratios = per_stage('sr_ratios', sr_ratios, n)
        agent_num = per_stage('agent_num', agent_num, n)
        agent_shapes = per_stage('downstream_agent_shapes',
                                 downstream_agent_shapes, n)
        agent_sr = per_stage(self.agent_sr_name, agent_sr_ratios, n)
        self.check_args(n, {
            'embed_dims': embed_dims, 'depths': depths,
            'num_heads': num_heads, 'sr_ratios': sr_ratios,
            'agent_num': agent_num, self.agent_sr_name: agent_sr})
        kinds = block_kinds(attn_type, depths, self.softmax_attention)
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
        self.use_abs_pos_embed = use_abs_pos_embed
        self.norm_after_stage = norm_after_stage

        drop_paths = drop_path_schedule(drop_path_rate, depths)
        # Pretraining token grid per stage: 56, 28, 14, 7 at 224.
        self.pos_grids = [pretrain_img_size // patch_size // 2**i
                          for i in range(n)]
        in_dims = in_channels
        for i in range(n):
            stride = patch_size if i == 0 else 2
            grid = self.pos_grids[i]
            self.add_module(
                f'patch_embed{i + 1}',
                PatchEmbed(in_dims, embed_dims[i], stride, pad_input=False,
                           kernel_size=2 * stride -
                           1 if overlapping_patch_embed else None))
            if use_abs_pos_embed:
                pos_embed = nn.Parameter(
                    torch.zeros(1, grid * grid, embed_dims[i]))
                trunc_normal_(pos_embed, std=.02)
                setattr(self, f'pos_embed{i + 1}', pos_embed)
                self.add_module(f'pos_drop{i + 1}', nn.Dropout(drop_rate))
            context = self.stage_context(
                embed_dims=embed_dims[i], num_heads=num_heads[i],
                pretrain_hw=(grid, grid), fused_qkv=False,
                agent_num=agent_num[i], agent_shape=agent_shapes[i])
            self.add_module(
                f'block{i + 1}',
                self.build_stage(
                    kinds[i], context, drop_paths[i],
                    lambda j, kind, i=i: dict(
                        sr_ratio=sr_ratios[i] if kind == self.
                        softmax_attention else agent_sr[i]),
                    mlp_ratio=mlp_ratios[i], norm_cfg=norm_cfg,
                    mlp_dwconv=use_conv_ffn))
            if norm_after_stage:
                self.add_module(f'norm{i + 1}',
                                nn.LayerNorm(embed_dims[i], eps=1e-6))
            in_dims = embed_dims[i]

        self.finish_building(n)

    def _stem_parts(self):
        return [self.patch_embed1] + ([self.pos_embed1]
                                      if self.use_abs_pos_embed else [])

    def _stage_parts(self, index: int):
        i = index + 1
        names = [f'block{i}', f'norm{i}']
        if i > 1:
            names += [f'patch_embed{i}', f'pos_embed{i}']
        return [getattr(self, n) for n in names if hasattr(self, n)]

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
        right/bottom (the detectors and segmentors of
        :mod:`mmagent.models.dense` pass their data samples'
        ``img_shape``); outputs are then zero on padding (see
        :mod:`~mmagent.models.layers.padding`)."""
        sizes = valid_sizes
        x = zero_outside_images(x, sizes)
        outs = []
        for i in range(1, self.num_stages + 1):
            patch_embed = getattr(self, f'patch_embed{i}')
            x, hw = patch_embed(x)
            sizes, valid = next_stage_sizes(sizes, patch_embed, hw)
            if self.use_abs_pos_embed:
                x = getattr(self, f'pos_drop{i}')(
                    x + self._pos_embed(i, hw, valid))
            for block in getattr(self, f'block{i}'):
                x = block(x, hw, valid)
            if self.norm_after_stage:
                x = getattr(self, f'norm{i}')(x)
            # zero padding: what the next (overlapping) patch embedding
            # sees around an image alone
            x = token_map(zero_padding(x, hw, valid), hw)
            if i - 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)
