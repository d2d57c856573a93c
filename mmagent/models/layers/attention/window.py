# Copyright (c) mmagent contributors. All rights reserved.
"""(Shifted) window softmax attention of Swin: attention kind ``'window'``,
the softmax (``'B'``) blocks of the Swin family. Official key names:
``qkv``, ``proj``, ``relative_position_bias_table`` and the persistent
``relative_position_index`` buffer."""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from .common import biased_attention, check_heads, fp32_logits
from .registry import register_attention

# Logit offset between tokens of different regions in a shifted window.
SHIFT_MASK_VALUE = -100.0


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * nW, ws * ws, C)``; H, W multiples of ws."""
    B, H, W, C = x.shape
    ws = window_size
    nH, nW = H // ws, W // ws
    x = x.view(B, nH, ws, nW, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B * nH * nW, ws * ws, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int,
                   W: int, batch_size: Optional[int] = None) -> torch.Tensor:
    """``(B * nW, ws * ws, C)`` -> ``(B, H, W, C)``."""
    ws = window_size
    C = windows.shape[-1]
    nH, nW = H // ws, W // ws
    # Every size given, no -1: with a free input size (export) a size
    # solved from the product is a symbolic division, which the ONNX
    # exporter writes as an integer Div that can be zero.
    B = windows.shape[0] // (nH * nW) if batch_size is None else batch_size
    x = windows.view(B, nH, nW, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


def shifted_window_mask(padded_hw: Tuple[int, int], window_size: int,
                        shift_size: int,
                        device: torch.device) -> torch.Tensor:
    """SW-MSA mask ``(nW, ws*ws, ws*ws)``: 0 inside a region, -100 across."""
    Hp, Wp = padded_hw

    def band(n):  # 0 before the last window, 1 in it, 2 in the last shift
        idx = torch.arange(n, device=device)
        return (idx >= n - window_size).long() + (idx >= n - shift_size).long()

    # comparisons, not slice assignments: the mask exports with Hp, Wp free
    region = (band(Hp)[:, None] * 3 + band(Wp)[None, :]).float()
    ids = window_partition(region[None, :, :, None], window_size).squeeze(-1)
    mask = ids.unsqueeze(1) - ids.unsqueeze(2)
    return mask.masked_fill(mask != 0, SHIFT_MASK_VALUE).masked_fill(
        mask == 0, 0.0)


@register_attention('window')
class WindowAttention(BaseModule):
    """Window multi-head self-attention with relative position bias, applied
    to a whole ``(H, W)`` map: pad to a multiple of the window, optional
    cyclic shift (SW-MSA), attention per window, then undo both.

    Args:
        embed_dims (int): Channels ``C``.
        num_heads (int): Number of heads.
        window_size (int): Window side ``ws``.
        shift_size (int): Cyclic shift; 0 for W-MSA. Default: 0.
        qkv_bias (bool): Bias in the qkv projection. Default: True.
        qk_scale (float, optional): Override of ``head_dims ** -0.5``.
        attn_drop (float): Attention dropout. Default: 0.
        proj_drop (float): Output dropout. Default: 0.
        pad_small_map (bool): ``True`` (detection, segmentation) pads a map
            smaller than a window and shifts it like any other. ``False``
            (classification, as the official ImageNet models) does not shift
            a map that fits in one window: Swin's last stage at 7x7.
            Default: True.
        exact (bool): ``True`` rebuilds the shift mask each call and uses
            explicit matmul + softmax like the official code; ``False`` caches
            the mask per padded size and uses
            :func:`~torch.nn.functional.scaled_dot_product_attention`.
            Default: False.

    Shapes:
        - x: ``(B, H*W, C)``; hw_shape ``(H, W)``; output ``(B, H*W, C)``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 shift_size: int = 0,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 pad_small_map: bool = True,
                 exact: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift_size must be in [0, window_size), got '
                             f'{shift_size} for window_size {window_size}')
        self.embed_dims = embed_dims
        check_heads(embed_dims, num_heads)
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.pad_small_map = pad_small_map
        head_dims = embed_dims // num_heads
        self.scale = qk_scale or head_dims**-0.5
        self.exact = exact
        self._mask_cache: Dict[tuple, torch.Tensor] = {}

        ws = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1) * (2 * ws - 1), num_heads))
        trunc_normal_(self.relative_position_bias_table, std=.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij'))
        coords = coords.flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        relative = relative + (ws - 1)
        index = relative[..., 0] * (2 * ws - 1) + relative[..., 1]
        # Persistent: the official checkpoints carry it.
        self.register_buffer('relative_position_index', index.contiguous())

        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _relative_position_bias(self) -> torch.Tensor:
        n = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous()  # (h, N, N)

    def logit_bias(self, mask: Optional[torch.Tensor],
                   num_windows: int) -> torch.Tensor:
        """The relative position bias plus the shift mask (``(nW, N, N)``
        or None), added to the logits of ``num_windows`` windows:
        ``(num_windows or 1, h, N, N)``."""
        bias = self._relative_position_bias().unsqueeze(0)  # (1, h, N, N)
        if mask is None:
            return bias
        nW = mask.shape[0]
        return (bias + mask.unsqueeze(1).to(bias.dtype)).repeat(
            num_windows // nW, 1, 1, 1)

    def _shift_mask(self, padded_hw: Tuple[int, int],
                    device: torch.device) -> torch.Tensor:
        # Built in the graph while torch.compile traces (a constant of the
        # shapes there; a cache mutated between calls would fail guards).
        if self.exact or torch.compiler.is_compiling():
            return shifted_window_mask(padded_hw, self.window_size,
                                       self.shift_size, device)
        key = (padded_hw, device)
        mask = self._mask_cache.get(key)
        if mask is None:
            if len(self._mask_cache) >= 8:
                self._mask_cache.clear()
            mask = shifted_window_mask(padded_hw, self.window_size,
                                       self.shift_size, device)
            self._mask_cache[key] = mask
        return mask

    def window_forward(self, windows: torch.Tensor,
                       mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Attention inside windows ``(B*nW, N, C)``; ``mask`` is
        ``(nW, N, N)`` or None."""
        B_, N, C = windows.shape
        h = self.num_heads
        qkv = self.qkv(windows).reshape(B_, N, 3, h, C // h).permute(
            2, 0, 3, 1, 4)
        x = self.attend_heads(*qkv.unbind(0), mask)
        x = x.transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(x))

    def attend_heads(self, q: torch.Tensor, k: torch.Tensor,
                     v: torch.Tensor,
                     mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Per-head attention of ``B*nW`` windows, ``(B*nW, h, N, d)`` q,
        k, v -> ``(B*nW, h, N, d)``, with the relative position bias and
        the shift mask (``(nW, N, N)`` or None)."""
        B_, h, N, _ = q.shape
        if self.exact:
            bias = self._relative_position_bias().unsqueeze(0)
            with fp32_logits(q, k) as (q_, k_):
                attn = (q_ * self.scale) @ k_.transpose(-2, -1) + bias
                if mask is not None:
                    nW = mask.shape[0]
                    attn = attn.view(B_ // nW, nW, h, N, N) + \
                        mask.unsqueeze(1).unsqueeze(0)
                    attn = attn.view(-1, h, N, N)
                attn = attn.softmax(dim=-1)
            return self.attn_drop(attn).to(v.dtype) @ v
        return biased_attention(
            q, k, v, self.logit_bias(mask, B_).to(q.dtype), self.scale,
            self.attn_drop.p if self.training else 0.)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        B, L, C = x.shape
        H, W = hw_shape
        ws = self.window_size
        x = x.view(B, H, W, C)
        # Pad right/bottom after norm1, so padded tokens are zeros.
        # (H + ws - 1) // ws, not (ws - H % ws) % ws: the same sizes in
        # simpler symbols when the input size is free (export); and no
        # -(-H // ws): ONNX's integer Div truncates, so negative operands
        # would round the other way there
        Hp, Wp = (H + ws - 1) // ws * ws, (W + ws - 1) // ws * ws
        x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
        shift = self.shift_size
        if not self.pad_small_map and min(H, W) <= ws:
            shift = 0
        if shift > 0:
            x = torch.roll(x, (-shift, -shift), (1, 2))
            mask = self._shift_mask((Hp, Wp), x.device)
        else:
            mask = None
        windows = self.window_forward(window_partition(x, ws), mask)
        x = window_reverse(windows, ws, Hp, Wp, B)
        if shift > 0:
            x = torch.roll(x, (shift, shift), (1, 2))
        return x[:, :H, :W, :].reshape(B, H * W, C)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'window_size={self.window_size}, '
                f'shift_size={self.shift_size}, '
                f'pad_small_map={self.pad_small_map}, exact={self.exact}')
