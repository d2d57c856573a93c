# Copyright (c) mmagent contributors. All rights reserved.
"""PVT v1 spatial-reduction softmax attention: attention kind
``'spatial_reduction'``, the softmax (``'B'``) blocks of the PVT family."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from .common import check_heads
from .registry import register_attention


@register_attention('spatial_reduction')
class SpatialReductionAttention(BaseModule):
    """Softmax attention whose keys/values come from a map reduced by
    ``sr_ratio`` (a strided conv + LayerNorm). Official keys ``q``, ``kv``,
    ``proj``, ``sr``, ``norm``.

    Args:
        embed_dims (int): Channels ``C``.
        num_heads (int): Number of heads.
        sr_ratio (int): Kernel and stride of the reduction; 1 keeps every
            token. Default: 1.
        qkv_bias (bool): Bias in the q/kv projections. Default: True.
        qk_scale (float, optional): Override of ``head_dims ** -0.5``.
        attn_drop (float): Attention dropout. Default: 0.
        proj_drop (float): Output dropout. Default: 0.

    Shapes: x ``(B, H*W, C)``, hw_shape ``(H, W)`` -> ``(B, H*W, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 sr_ratio: int = 1,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_heads(embed_dims, num_heads)
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads)**-0.5
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(
                embed_dims, embed_dims, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        q = self.q(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x = x.permute(0, 2, 1).reshape(B, C, *hw_shape)
            x = self.norm(self.sr(x).reshape(B, C, -1).permute(0, 2, 1))
        k, v = self.kv(x).reshape(B, -1, 2, h, C // h).permute(2, 0, 3, 1, 4)
        x = self.attend_heads(q, k, v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def attend_heads(self, q: torch.Tensor, k: torch.Tensor,
                     v: torch.Tensor) -> torch.Tensor:
        """Per-head attention: ``(B, h, N, d)`` queries, ``(B, h, n, d)``
        keys and values -> ``(B, h, N, d)``."""
        attn = (q @ k.transpose(-2, -1)) * self.scale
        return self.attn_drop(attn.softmax(dim=-1)) @ v
