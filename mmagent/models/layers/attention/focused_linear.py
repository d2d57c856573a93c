# Copyright (c) mmagent contributors. All rights reserved.
"""Focused linear attention (Han et al., "FLatten Transformer: Vision
Transformer using Focused Linear Attention", ICCV 2023): attention kind
``'focused_linear'``, stage code ``'L'``, shared by every backbone family.

Queries and keys go through the focused feature map
``phi(x) = f_p(ReLU(x) / softplus(scale))`` with
``f_p(x) = ||x|| / ||x ** p|| * x ** p`` (the norms over all ``C`` channels,
every head together, as the official models). Per head, with ``n`` keys::

    O_i = phi(q_i) [(1/n) sum_j phi(k_j)^T v_j]
          / (phi(q_i) . (1/n) sum_j phi(k_j) + 1e-6)  +  DWC(V)_i

which costs ``O(N d^2)``: the ``d x d`` matrix ``K^T V`` is formed first and
no ``N x N`` map ever exists. A 5x5 depth-wise conv shared by all heads
restores the rank of the linear attention map.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from .common import (check_heads, padded_sizes, per_image_token_map,
                     resize_token_map, token_mask)
from .registry import register_attention

EPS = 1e-6


@register_attention('focused_linear', code='L')
class FocusedLinearAttention(BaseModule):
    """Global focused linear attention over a ``(H, W)`` token map.

    Args:
        embed_dims (int): Number of channels ``C``.
        num_heads (int): Number of heads ``h``; ``d = C // h``.
        pretrain_hw (tuple[int, int]): Token grid of the stage at the
            pretraining resolution. It sizes ``positional_encoding``
            (``(Hc / sr) * (Wc / sr)`` tokens), which is resized as a 2-D map
            to the actual key grid of every input.
        fused_qkv (bool, optional): ``True`` builds one ``qkv`` Linear (Swin
            layout), ``False`` ``q`` and ``kv`` Linears (PVT layout).
            ``None`` builds neither nor ``proj``: the block owns them (CSWin)
            and calls the module on its ``(q, k, v)`` triple. Default: True.
        qkv_bias (bool): Bias in the q/k/v projections. Default: True.
        proj_drop (float): Dropout after the output projection. Default: 0.
        sr_ratio (int): Keys and values from the map reduced by a strided
            conv + LayerNorm (official ``sr``, ``norm``); V is brought back
            to ``(H, W)`` as a 2-D map (bilinear) before the DWC, where the
            official code resamples the flattened sequence in 1-D. Only
            with ``fused_qkv=False``. Default: 1.
        focusing_factor (float): The power ``p``. Default: 3.
        kernel_size (int): Kernel of the depth-wise conv on ``v`` (one
            ``d``-channel conv shared by the heads). Default: 5.
        lepe (bool): Also add CSWin's locally-enhanced positional encoding,
            a 3x3 depth-wise conv over all ``C`` channels of V (official
            ``get_v``), as FLatten-CSWin does. Default: False.
        exact (bool): ``True`` follows the official operation order (the
            ``n ** -0.5`` factor applied to K and V separately). ``False``
            (default) divides ``K^T V`` by ``n`` once. They agree to ~1e-7.
        init_cfg (dict, optional): Initialization config. Default: None.

    Under autocast the feature maps, ``K^T V``, the normaliser and the
    product with the queries run in fp32 (``x ** 3`` and the sums over a
    detection-size map overflow fp16); the output returns in the input's
    dtype.

    Padding: with ``valid_hw`` (each image's own ``(h, w)`` token region,
    top-left, in a batch padded right/bottom) the padded keys contribute
    nothing to ``mean(phi(K))`` or ``K^T V`` (both divide by the image's own
    key count), the positional encoding is resized to each image's own key
    grid, and V is zero on padding for the DWC and LePE, as the convs'
    zero padding of the image alone: each image's tokens come out as they
    would without the batch. Outputs at padded positions are unspecified.

    Shapes:
        - x: ``(B, H * W, C)``, row-major; with ``fused_qkv=None`` a
          ``(q, k, v)`` triple of such tensors.
        - valid_hw: ``B`` pairs ``(h, w)``, ``h <= H``, ``w <= W``, or None.
        - output: ``(B, H * W, C)``.
    """
    masks_padding = True

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 pretrain_hw: Sequence[int],
                 fused_qkv: Optional[bool] = True,
                 qkv_bias: bool = True,
                 proj_drop: float = 0.,
                 sr_ratio: int = 1,
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 lepe: bool = False,
                 exact: bool = False,
                 num_extra_tokens: int = 0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_extra_tokens:
            raise NotImplementedError(
                'focused linear attention is defined on a token map only; '
                'FLatten has no model with a class token (no FLatten-DeiT '
                'code was released), so it cannot replace a DeiT block')
        if isinstance(sr_ratio, bool) or not isinstance(sr_ratio, int) or \
                sr_ratio < 1:
            raise ValueError(f'sr_ratio must be an integer >= 1, got '
                             f'{sr_ratio!r}')
        check_heads(embed_dims, num_heads)
        if sr_ratio > 1 and (fused_qkv is not False or lepe):
            raise ValueError('sr_ratio > 1 needs the PVT layout '
                             '(fused_qkv=False) and no LePE')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        # f_p sharpens by raising the (ReLU'd, so >= 0) features to p: p = 0
        # makes every feature 1 and p < 0 divides by the zeros of ReLU.
        if isinstance(focusing_factor, bool) or not isinstance(
                focusing_factor, (int, float)) or not focusing_factor > 0:
            raise ValueError(f'focusing_factor (the power p) must be a '
                             f'number > 0, got {focusing_factor!r}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.fused_qkv = fused_qkv
        self.sr_ratio = sr_ratio
        self.focusing_factor = focusing_factor
        self.exact = exact
        Hc, Wc = (int(s) for s in pretrain_hw)
        self.kv_pretrain_hw = (Hc // sr_ratio, Wc // sr_ratio)

        if fused_qkv is True:
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        elif fused_qkv is False:
            self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
            self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        if fused_qkv is not None:
            self.proj = nn.Linear(embed_dims, embed_dims)
            self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, kernel_size=sr_ratio,
                                stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)
        # softplus(0) = ln 2 at the start, as the official models
        self.scale = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.positional_encoding = nn.Parameter(
            torch.zeros(1, self.kv_pretrain_hw[0] * self.kv_pretrain_hw[1],
                        embed_dims))
        # registration order follows the official state dict
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1,
                               groups=embed_dims) if lepe else None
        self.dwc = nn.Conv2d(self.head_dims, self.head_dims, kernel_size,
                             padding=kernel_size // 2, groups=self.head_dims)

    def _project(self, x: torch.Tensor, hw_shape: Tuple[int, int]):
        """q ``(B, N, C)``, k and v ``(B, n, C)`` and the key grid."""
        B, N, C = x.shape
        if self.fused_qkv:
            q, k, v = self.qkv(x).reshape(B, N, 3, C).unbind(2)
            return q, k, v, tuple(hw_shape)
        q = self.q(x)
        kv_hw = tuple(hw_shape)
        if self.sr_ratio > 1:
            x = x.transpose(1, 2).reshape(B, C, *hw_shape)
            x = self.sr(x)
            kv_hw = tuple(x.shape[-2:])
            x = self.norm(x.flatten(2).transpose(1, 2))
        k, v = self.kv(x).reshape(B, -1, 2, C).unbind(2)
        return q, k, v, kv_hw

    def focus(self, x: torch.Tensor) -> torch.Tensor:
        """``phi(x)`` over the last (channel) dim; fp32 in, fp32 out."""
        x = (F.relu(x) + EPS) / F.softplus(self.scale.float())
        norm = x.norm(dim=-1, keepdim=True)
        x = x**self.focusing_factor
        return x / x.norm(dim=-1, keepdim=True) * norm

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               hw_shape: Tuple[int, int], kv_hw: Tuple[int, int],
               valid_hw: Optional[List[Tuple[int, int]]] = None,
               kv_valid: Optional[List[Tuple[int, int]]] = None
               ) -> torch.Tensor:
        """The token mixing between projections: ``(B, N, C)`` q and
        ``(B, n, C)`` k, v -> ``(B, N, C)``, in q's dtype. ``valid_hw`` /
        ``kv_valid``: each image's region of the query / key grid, or
        ``None`` for none padded."""
        B, N, C = q.shape
        n = k.shape[1]
        h, d = self.num_heads, self.head_dims
        dtype = q.dtype
        if kv_valid is None:
            pos = resize_token_map(self.positional_encoding,
                                   self.kv_pretrain_hw, kv_hw)
        else:
            pos = per_image_token_map(self.positional_encoding,
                                      self.kv_pretrain_hw, kv_valid, kv_hw)
            key_mask = token_mask(kv_valid, kv_hw, q.device)  # (B, n)
            v = v.masked_fill(~key_mask[..., None], 0)
        with torch.autocast(q.device.type, enabled=False):
            qf = self.focus(q.float())
            kf = self.focus(k.float() + pos.float())
            vf = v.float()
            if kv_valid is not None:
                kf = kf.masked_fill(~key_mask[..., None], 0)
                # each image's own key count, (B, 1, 1, 1)
                n = key_mask.sum(dim=1).float().reshape(B, 1, 1, 1)
            qf = qf.reshape(B, N, h, d).transpose(1, 2)
            kf = kf.reshape(B, -1, h, d).transpose(1, 2)
            vf = vf.reshape(B, -1, h, d).transpose(1, 2)
            if kv_valid is None:
                k_mean = kf.mean(dim=-2, keepdim=True)
            else:
                k_mean = kf.sum(dim=-2, keepdim=True) / n
            z = 1 / (qf @ k_mean.transpose(-2, -1) + EPS)
            if self.exact:
                kv = (kf.transpose(-2, -1) * n**-0.5) @ (vf * n**-0.5)
            else:
                kv = (kf.transpose(-2, -1) @ vf) / n
            x = (qf @ kv) * z
            x = x.transpose(1, 2).reshape(B, N, C).to(dtype)
        if self.get_v is not None:  # CSWin's LePE (kv_hw == hw_shape)
            lepe = self.get_v(v.transpose(1, 2).reshape(B, C, *kv_hw))
            x = x + lepe.flatten(2).transpose(1, 2)
        # rank restoration: one d-channel depth-wise conv for every head, on
        # V at the queries' resolution
        v = v.reshape(B, *kv_hw, h, d).permute(0, 3, 4, 1, 2)
        v = v.reshape(B * h, d, *kv_hw)
        if tuple(kv_hw) != tuple(hw_shape):
            v = self._upsample_values(v, hw_shape, valid_hw, kv_valid)
        v = self.dwc(v)
        return x + v.reshape(B, C, N).transpose(1, 2)

    def _upsample_values(self, v: torch.Tensor, hw_shape: Tuple[int, int],
                         valid_hw: Optional[List[Tuple[int, int]]],
                         kv_valid: Optional[List[Tuple[int, int]]]
                         ) -> torch.Tensor:
        """``(B*h, d, kh, kw)`` values of the reduced grid -> the query grid
        (bilinear); with padding, each image's own region to its own size."""
        if kv_valid is None:
            return F.interpolate(v, size=tuple(hw_shape), mode='bilinear',
                                 align_corners=False)
        h = self.num_heads
        out = v.new_zeros(*v.shape[:2], *hw_shape)
        for b, ((qh, qw), (kh, kw)) in enumerate(zip(valid_hw, kv_valid)):
            rows = slice(b * h, (b + 1) * h)
            out[rows, :, :qh, :qw] = F.interpolate(
                v[rows, :, :kh, :kw], size=(qh, qw), mode='bilinear',
                align_corners=False)
        return out

    def forward(self, x, hw_shape: Sequence[int],
                valid_hw: Optional[Sequence[Tuple[int, int]]] = None
                ) -> torch.Tensor:
        hw_shape = tuple(hw_shape)
        valid_hw = padded_sizes(valid_hw, hw_shape)
        if self.fused_qkv is None:
            q, k, v = x
            return self.attend(q, k, v, hw_shape, hw_shape, valid_hw,
                               valid_hw)
        q, k, v, kv_hw = self._project(x, hw_shape)
        kv_valid = valid_hw
        if valid_hw is not None and kv_hw != hw_shape:
            # the reduction conv (kernel = stride = sr) keeps the windows
            # that lie inside the image
            r = self.sr_ratio
            if any(qh < r or qw < r for qh, qw in valid_hw):
                raise ValueError(
                    f'an image of the batch has a {min(valid_hw)} token map, '
                    f'smaller than the {r}x{r} spatial reduction: it has '
                    f'no key of its own (alone, it would not run either)')
            kv_valid = [(qh // r, qw // r) for qh, qw in valid_hw]
        x = self.attend(q, k, v, hw_shape, kv_hw, valid_hw, kv_valid)
        return self.proj_drop(self.proj(x))
