# Copyright (c) mmagent contributors. All rights reserved.
"""Cross-shaped window (stripe) softmax attention of CSWin with its locally
enhanced positional encoding (LePE): attention kind ``'stripe'``, the
softmax (``'B'``) blocks of the CSWin family.

One module is one *branch* of a CSWin block: the block projects ``q, k, v``
once, hands half of the channels to a vertical-stripe branch and half to a
horizontal-stripe branch (or all of them to one whole-map branch in the last
stage) and projects the concatenated outputs. The only weights are LePE's
depth-wise conv, under the official name ``get_v``.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from .common import check_heads, fp32_logits, known_equal
from .registry import register_attention

#: ``branch`` values: stripes as tall as the map and ``split_size`` wide,
#: stripes ``split_size`` tall and as wide as the map, one window = the map.
VERTICAL, HORIZONTAL, WHOLE_MAP = 0, 1, -1


@register_attention('stripe')
class StripeAttention(BaseModule):
    """Multi-head softmax attention inside stripes of a ``(H, W)`` map, plus
    LePE (a depth-wise 3x3 conv of the values of each stripe).

    Maps whose side is not a multiple of ``split_size`` are zero-padded to
    the next multiple; the padded keys are masked out (they get no attention
    weight) and the padded outputs cropped, so every real token sees exactly
    the real tokens of its stripe. LePE sees zeros beyond the map, which is
    its own zero padding.

    Args:
        embed_dims (int): Channels ``C'`` of this branch (half the block's in
            a two-branch block).
        num_heads (int): Heads of this branch.
        split_size (int): Stripe width (``branch=0``) or height
            (``branch=1``); unused for ``branch=-1``.
        branch (int): ``0`` vertical stripes (window ``H x split_size``),
            ``1`` horizontal stripes (``split_size x W``), ``-1`` one window
            over the whole map. The official ``idx``. Default: -1.
        qk_scale (float, optional): Override of ``head_dims ** -0.5``.
        attn_drop (float): Attention dropout. Default: 0.
        lepe_kernel_size (int): Kernel of ``get_v``. Default: 3.
        exact (bool): ``True`` uses explicit matmul + softmax (the official
            order); ``False`` (default) uses
            :func:`~torch.nn.functional.scaled_dot_product_attention`.
        init_cfg (dict, optional): Initialization config.

    Shapes:
        - x: a ``(q, k, v)`` triple of ``(B, H*W, C')`` tensors (the map in
          row-major order), hw_shape ``(H, W)``.
        - output: ``(B, H*W, C')``, before the block's projection.
    """

    #: Called on the block's projected ``(q, k, v)`` (no qkv/proj inside).
    takes_qkv = True

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 split_size: int = 7,
                 branch: int = WHOLE_MAP,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 lepe_kernel_size: int = 3,
                 exact: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_heads(embed_dims, num_heads)
        if branch not in (VERTICAL, HORIZONTAL, WHOLE_MAP):
            raise ValueError(f'branch must be 0 (vertical stripes), 1 '
                             f'(horizontal stripes) or -1 (whole map), got '
                             f'{branch!r}')
        if branch != WHOLE_MAP and (isinstance(split_size, bool) or
                                    not isinstance(split_size, int)
                                    or split_size < 1):
            raise ValueError(f'split_size must be a positive int, got '
                             f'{split_size!r}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.split_size = split_size
        self.branch = branch
        self.scale = qk_scale or self.head_dims**-0.5
        self.exact = exact
        self.get_v = nn.Conv2d(
            embed_dims, embed_dims, kernel_size=lepe_kernel_size,
            padding=lepe_kernel_size // 2, groups=embed_dims)
        self.attn_drop = nn.Dropout(attn_drop)

    def window_hw(self, hw_shape: Sequence[int]) -> Tuple[int, int]:
        """Window ``(H_sp, W_sp)`` for an ``(H, W)`` map."""
        H, W = hw_shape
        if self.branch == VERTICAL:
            return H, self.split_size
        if self.branch == HORIZONTAL:
            return self.split_size, W
        return H, W

    def _to_windows(self, x: torch.Tensor, hw: Tuple[int, int],
                    win: Tuple[int, int]) -> torch.Tensor:
        """``(B, Hp, Wp, C')`` -> ``(B * nW, h, H_sp * W_sp, d)``; windows in
        (row-block, col-block) order, tokens row-major inside each."""
        B, Hp, Wp, _ = x.shape
        Hs, Ws = win
        nH, nW = Hp // Hs, Wp // Ws
        x = x.reshape(B, nH, Hs, nW, Ws, self.num_heads, self.head_dims)
        return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(
            B * nH * nW, self.num_heads, Hs * Ws, self.head_dims)

    def _key_mask(self, hw: Tuple[int, int], padded: Tuple[int, int],
                  win: Tuple[int, int], device) -> torch.Tensor:
        """``(nW, 1, 1, N)`` bool, True for the real (unpadded) keys."""
        H, W = hw
        # comparisons, not a slice assignment: exportable with a free size
        valid = (torch.arange(padded[0], device=device) < H)[:, None] & \
            (torch.arange(padded[1], device=device) < W)[None, :]
        valid = valid.view(padded[0] // win[0], win[0], padded[1] // win[1],
                           win[1]).permute(0, 2, 1, 3)
        return valid.reshape(-1, 1, 1, win[0] * win[1])

    def forward(self, x, hw_shape: Sequence[int]) -> torch.Tensor:
        """Args: x the ``(q, k, v)`` triple of ``(B, H*W, C')`` tensors,
        hw_shape ``(H, W)``. Returns ``(B, H*W, C')``."""
        q, k, v = x
        B, L, C = q.shape
        H, W = hw_shape
        Hs, Ws = self.window_hw((H, W))
        # Stripes never straddle the map's end: pad to whole windows.
        # (H + Hs - 1) // Hs * Hs: simpler symbols than (Hs - H % Hs) % Hs
        # when the input size is free (export); the same sizes
        Hp, Wp = (H + Hs - 1) // Hs * Hs, (W + Ws - 1) // Ws * Ws
        pad_b, pad_r = Hp - H, Wp - W
        # reshape: the block hands over channel slices (not contiguous)
        q, k, v = (F.pad(t.reshape(B, H, W, C), (0, 0, 0, pad_r, 0, pad_b))
                   for t in (q, k, v))
        q, k, v = (self._to_windows(t, (Hp, Wp), (Hs, Ws)) for t in (q, k, v))
        Bw, h, N, d = q.shape
        mask = None
        if not (known_equal(pad_b, 0) and known_equal(pad_r, 0)):
            mask = self._key_mask((H, W), (Hp, Wp), (Hs, Ws), q.device)
            mask = mask.repeat(B, 1, 1, 1)  # windows are batch-major

        # LePE: the stripe's values as a (C', H_sp, W_sp) map, conv zero-padded
        # at the stripe borders like the official per-window conv.
        lepe = self.get_v(
            v.permute(0, 1, 3, 2).reshape(Bw, C, Hs, Ws)).reshape(
                Bw, h, d, N).transpose(-2, -1)

        if self.exact:
            with fp32_logits(q, k) as (q_, k_):
                attn = (q_ * self.scale) @ k_.transpose(-2, -1)
                if mask is not None:
                    attn = attn.masked_fill(~mask, float('-inf'))
                attn = attn.softmax(dim=-1)
            out = self.attn_drop(attn).to(v.dtype) @ v
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask,
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        out = out + lepe

        # (B*nW, h, N, d) -> (B, Hp, Wp, C'), then crop the padding.
        out = out.view(B, Hp // Hs, Wp // Ws, h, Hs, Ws, d).permute(
            0, 1, 4, 2, 5, 3, 6).reshape(B, Hp, Wp, C)
        return out[:, :H, :W].reshape(B, H * W, C)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'branch={self.branch}, split_size={self.split_size}, '
                f'exact={self.exact}')
