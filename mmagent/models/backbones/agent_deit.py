# Copyright (c) mmagent contributors. All rights reserved.
"""Agent-DeiT: a plain ViT (DeiT) whose first blocks use agent attention
(Han et al., ECCV 2024)."""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS

from ..layers import PatchEmbed, block_kinds
from ..layers.attention.common import resize_token_map
from .base import (AttentionBackbone, OfficialLayout, backbone_init,
                   drop_path_schedule, per_stage, token_map)

OUT_TYPES = ('cls_token', 'featmap', 'avg_featmap', 'raw')


def resize_pos_embed(pos_embed: torch.Tensor, src_hw: Sequence[int],
                     dst_hw: Sequence[int],
                     num_extra_tokens: int) -> torch.Tensor:
    """Bicubically resize the map part of ``(1, E + Hs*Ws, C)`` position
    embeddings to ``(Hd, Wd)``; the ``E`` leading ones are kept."""
    return resize_token_map(pos_embed, src_hw, dst_hw, 'bicubic',
                            num_extra_tokens)


@MODELS.register_module()
class AgentDeiT(AttentionBackbone):
    """Agent-DeiT backbone from `Agent Attention
    <https://arxiv.org/abs/2312.08874>`_.

    DeiT (a ViT with a class token and absolute position embeddings) whose
    first ``agent_layer`` blocks use agent attention: agents are pooled from
    the patch tokens only, the class token joins both attentions through the
    extra ``ac_bias``/``ca_bias``, and the DWC runs on the patch tokens'
    values. The other blocks are plain softmax attention. Names follow the
    official classifier (``cls_token``, ``pos_embed``, ``patch_embed.proj``,
    ``blocks.{j}``, ``norm``), so its checkpoints load strictly, and the
    official keyword arguments (``embed_dim``, ``depth``, ``img_size``,
    ``agent_num``, ``agent_layer``, ...) are accepted unchanged.

    Args:
        arch (str | dict): ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'`` ...) or a
            dict with keys ``embed_dims``, ``depth``, ``num_heads``,
            ``agent_num``, ``agent_layer``. Explicit values override the
            preset. Default: ``'t'``.
        pretrain_img_size (int): ImageNet resolution (official ``img_size``);
            sizes the position embedding and the row/column agent biases
            (``img_size / patch_size`` per side). Default: 224.
        patch_size (int): Patch size. Default: 16.
        in_channels (int): Input channels. Default: 3.
        mlp_ratio (float): MLP expansion. Default: 4.
        qkv_bias (bool): Bias in the qkv projections. Default: True.
        drop_rate, attn_drop_rate (float): Dropout rates. Default: 0.
        drop_path_rate (float): Stochastic depth, linear over the blocks.
            Default: 0.
        agent_num (int | Sequence[int]): ImageNet agents (a perfect square)
            of every agent block, or one per agent block (the official
            configs write ``'49-49-49-49'``).
        agent_layer (int, optional): The first ``agent_layer`` blocks use
            ``attn_type``'s attention, the rest softmax (Agent-DeiT-B: 4).
            ``None``: every block.
        attn_type (str): The code of the non-softmax blocks (``'A'`` agent;
            ``'B'`` makes every block softmax, a plain DeiT). Default: 'A'.
        kernel_size (int): DWC kernel. Default: 3.
        scale (float): Agent attention scale exponent. Default: -0.5.
        out_type (str): ``'cls_token'`` (``(B, C)``, the official classifier
            features), ``'featmap'`` (patch tokens as ``(B, C, H, W)``),
            ``'avg_featmap'`` (mean of the patch tokens, ``(B, C)``) or
            ``'raw'`` (``(B, 1 + H*W, C)``). Default: 'cls_token'.
        out_indices (int | Sequence[int]): Blocks whose output is returned
            (negative counts from the end). Default: -1.
        final_norm (bool): The last block's output goes through ``norm``.
            Default: True.
        frozen_stages (int): ``-1`` nothing; ``0`` the patch and position
            embeddings and the class token; ``k >= 1`` also blocks ``1..k``
            (and ``norm`` when ``k`` is the depth).
        norm_eval (bool): Normalization layers stay in eval mode.
        with_cp (bool): Gradient checkpointing per block.
        exact (bool): Reference operation order instead of the fast path.
        norm_cfg (dict): Norms. Default: ``dict(type='LN', eps=1e-6)``.
        attn_cfgs (dict, optional): Extra arguments per attention kind.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            loads official ImageNet checkpoints and state dicts.

    Shapes:
        - input: ``(B, in_channels, H, W)``; other sizes than
          ``pretrain_img_size`` resize the position embedding bicubically.
        - output: a tuple with one entry per ``out_indices``, shaped as
          ``out_type`` says.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(
            embed_dims=192, depth=12, num_heads=3, agent_num=49,
            agent_layer=None)),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=384, depth=12, num_heads=6, agent_num=49,
            agent_layer=None)),
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, depth=12, num_heads=12, agent_num=81,
            agent_layer=4)),
    }
    softmax_attention = 'global'
    num_extra_tokens = 1  # the class token
    official_layout = OfficialLayout('DeiT', marker=r'blocks\.\d+\.')

    @backbone_init(
        aliases=dict(img_size='pretrain_img_size', in_chans='in_channels',
                     embed_dim='embed_dims', use_checkpoint='with_cp'),
        ignored=('num_classes', 'qk_scale'))
    def __init__(self,
                 arch='t',
                 embed_dims: Optional[int] = None,
                 depth: Optional[int] = None,
                 num_heads: Optional[int] = None,
                 agent_num: Union[int, Sequence[int], None] = None,
                 agent_layer: Optional[int] = None,
                 attn_type: str = 'A',
                 pretrain_img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 out_type: str = 'cls_token',
                 out_indices: Union[int, Sequence[int]] = -1,
                 final_norm: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 **kwargs):
        settings = self.resolve_settings(
            embed_dims=embed_dims, depth=depth, num_heads=num_heads,
            agent_num=agent_num, agent_layer=agent_layer)
        depth = settings['depth']
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        # mmpretrain's convention: negative indices count from the end
        super().__init__(
            out_indices=[i + depth if isinstance(i, int) and i < 0 else i
                         for i in out_indices], **kwargs)
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type must be one of {OUT_TYPES}, got '
                             f'{out_type!r}')
        layers = settings['agent_layer']
        layers = depth if layers is None else layers
        if isinstance(layers, bool) or not isinstance(layers, int) or \
                not 0 <= layers <= depth:
            raise ValueError(f'agent_layer must be in [0, depth={depth}] or '
                             f'None, got {layers!r}')
        agent_num = settings['agent_num']
        if isinstance(agent_num, str):  # the official '49-49-49-49'
            agent_num = agent_num.split('-')
        agent_num = per_stage('agent_num', agent_num, len(agent_num)) \
            if isinstance(agent_num, (list, tuple)) else [agent_num] * layers
        if len(agent_num) < layers:
            raise ValueError(f'agent_num gives {len(agent_num)} values for '
                             f'{layers} agent blocks: give one number, or '
                             f'one per agent block')
        grid = pretrain_img_size // patch_size
        # each block counts as a stage for out_indices / frozen_stages
        self.check_args(depth, dict(embed_dims=settings['embed_dims'],
                                    depth=depth,
                                    num_heads=settings['num_heads'],
                                    agent_num=agent_num or 1),
                        num_downsamplings=0)
        if len(attn_type) != 1:
            raise ValueError(f'attn_type of a one-stage DeiT is one code '
                             f'(e.g. "A"), got {attn_type!r}')
        kind = block_kinds(attn_type, [1], self.softmax_attention)[0][0]
        self.arch_settings = settings
        self.embed_dims = C = settings['embed_dims']
        self.num_heads = settings['num_heads']
        self.depth = depth
        self.patch_grid = (grid, grid)
        self.out_type = out_type
        self.final_norm = final_norm

        self.patch_embed = PatchEmbed(in_channels, C, patch_size,
                                      pad_input=True, norm=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + grid * grid, C))
        self.pos_drop = nn.Dropout(drop_rate)
        drop_paths, = drop_path_schedule(drop_path_rate, [depth])
        kinds = [kind if j < layers else self.softmax_attention
                 for j in range(depth)]

        def agents(j, kind):  # the agent kind refuses non-squares
            num = agent_num[j] if j < layers else 1
            side = math.isqrt(num)
            return dict(agent_num=num, agent_shape=(side, side))

        self.blocks = self.build_stage(
            kinds,
            self.stage_context(embed_dims=C, num_heads=self.num_heads,
                               fused_qkv=True, pretrain_hw=self.patch_grid,
                               num_extra_tokens=self.num_extra_tokens),
            drop_paths, agents, mlp_ratio=mlp_ratio, norm_cfg=norm_cfg)
        self.norm = nn.LayerNorm(C, eps=norm_cfg.get('eps', 1e-6)) \
            if final_norm else None
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        self.finish_building(depth)

    def _stem_parts(self):
        return [self.patch_embed, self.cls_token, self.pos_embed]

    def _stage_parts(self, index: int):
        parts = [self.blocks[index]]
        if index == self.depth - 1 and self.norm is not None:
            parts.append(self.norm)
        return parts

    def _format(self, x: torch.Tensor, hw) -> torch.Tensor:
        E = self.num_extra_tokens
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patches = x[:, E:]
        if self.out_type == 'avg_featmap':
            return patches.mean(dim=1)
        return token_map(patches, hw)

    def forward(self, x: torch.Tensor) -> tuple:
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_grid, hw,
                                 self.num_extra_tokens)
        x = self.pos_drop(x)
        outs = []
        for j, block in enumerate(self.blocks):
            x = block(x, hw)
            if j == self.depth - 1 and self.norm is not None:
                x = self.norm(x)
            if j in self.out_indices:
                outs.append(self._format(x, hw))
        return tuple(outs)
