# Copyright (c) mmagent contributors. All rights reserved.
"""Plain multi-head softmax attention over every token: attention kind
``'global'``, the softmax blocks of the DeiT family (timm's ``Attention``;
official key names ``qkv`` and ``proj``)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from .common import check_heads, fp32_logits
from .registry import register_attention


@register_attention('global')
class GlobalAttention(BaseModule):
    """Softmax attention of all ``N`` tokens to all tokens.

    Args:
        embed_dims (int): Channels ``C``.
        num_heads (int): Number of heads.
        qkv_bias (bool): Bias in the qkv projection. Default: True.
        qk_scale (float, optional): Override of ``head_dims ** -0.5``.
        attn_drop (float): Attention dropout. Default: 0.
        proj_drop (float): Output dropout. Default: 0.
        exact (bool): Explicit matmul + softmax (the official order) instead
            of :func:`~torch.nn.functional.scaled_dot_product_attention`.
            Default: False.

    Shapes:
        - x: ``(B, N, C)`` (class token included); ``hw_shape`` is unused.
        - output: ``(B, N, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 exact: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_heads(embed_dims, num_heads)
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads)**-0.5
        self.exact = exact
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor,
                hw_shape: Optional[Sequence[int]] = None) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).reshape(B, N, 3, h, C // h).permute(
            2, 0, 3, 1, 4)
        x = self.attend_heads(q, k, v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def attend_heads(self, q: torch.Tensor, k: torch.Tensor,
                     v: torch.Tensor) -> torch.Tensor:
        """Per-head attention: ``(B, h, N, d)`` q, k, v -> ``(B, h, N,
        d)``."""
        if self.exact:
            with fp32_logits(q, k) as (q_, k_):
                attn = ((q_ @ k_.transpose(-2, -1)) * self.scale).softmax(-1)
            return self.attn_drop(attn).to(v.dtype) @ v
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'exact={self.exact}')
