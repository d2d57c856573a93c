# Copyright (c) mmagent contributors. All rights reserved.
"""Helpers shared by the attention kinds."""
import contextlib
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.fx.experimental.symbolic_shapes import statically_known_true

from ....utils.device_branches import branch_device


def check_heads(embed_dims: int, num_heads: int) -> None:
    """Every kind splits its channels evenly over the heads."""
    if embed_dims % num_heads != 0:
        raise ValueError(f'embed_dims ({embed_dims}) must be divisible by '
                         f'num_heads ({num_heads})')


@contextlib.contextmanager
def fp32_logits(*tensors: torch.Tensor):
    """Yield the tensors in fp32 with autocast off when any is in reduced
    precision, so attention logits and softmax are computed in fp32 (fp16
    overflows at 65504); fp32 and fp64 tensors pass through untouched."""
    if all(t.dtype in (torch.float32, torch.float64) for t in tensors):
        yield tensors
        return
    with torch.autocast(tensors[0].device.type, enabled=False):
        yield tuple(t.float() for t in tensors)


def adaptive_pool_matrix(src: int, dst: int,
                         like: torch.Tensor) -> torch.Tensor:
    """``(dst, src)`` weights of a 1-D adaptive average pooling: output
    ``i`` averages inputs ``floor(i * src / dst)`` to
    ``ceil((i + 1) * src / dst) - 1``, the windows of
    :func:`F.adaptive_avg_pool2d` (which overlap where ``dst`` does not
    divide ``src``). Built from tensor ops only, so it traces and exports
    with the input size free."""
    out = torch.arange(dst, device=like.device)
    start = torch.div(out * src, dst, rounding_mode='floor')
    end = torch.div((out + 1) * src + dst - 1, dst, rounding_mode='floor')
    idx = torch.arange(src, device=like.device)
    window = (idx >= start[:, None]) & (idx < end[:, None])
    return window.to(like.dtype) / (end - start).to(like.dtype)[:, None]


def known_equal(a, b) -> bool:
    """``a == b`` for sizes. With a free (symbolic) input size, as in an
    export with dynamic shapes, equality is never assumed unless it holds
    for every size: the caller takes its general path (a resize that is an
    identity at equal sizes, a mask that masks nothing) instead of pinning
    the exported model to the example's size."""
    if isinstance(a, torch.SymInt) or isinstance(b, torch.SymInt):
        return statically_known_true(a == b)
    return bool(a == b)  # ints, or the size tensors of a jit trace (FLOPs)


def same_size(src_hw: Sequence[int], dst_hw: Sequence[int]) -> bool:
    """Whether two grids are known to agree (see :func:`known_equal`)."""
    return all(known_equal(s, d) for s, d in zip(src_hw, dst_hw))


def resize_token_map(tokens: torch.Tensor, src_hw: Sequence[int],
                     dst_hw: Sequence[int], mode: str = 'bilinear',
                     num_extra_tokens: int = 0) -> torch.Tensor:
    """``(1, E + Hs*Ws, C)`` tokens of an ``src_hw`` grid resized
    (``align_corners=False``) as a 2-D map to ``dst_hw``:
    ``(1, E + Hd*Wd, C)``; the ``E`` leading (extra) tokens are kept.
    Returned as they are when the grids agree."""
    if same_size(src_hw, dst_hw):
        return tokens
    E, C = num_extra_tokens, tokens.shape[-1]
    grid = tokens[:, E:].reshape(1, *src_hw, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(dst_hw), mode=mode,
                         align_corners=False)
    return torch.cat([tokens[:, :E], grid.flatten(2).transpose(1, 2)], dim=1)


def biased_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     bias: torch.Tensor, scale: float,
                     dropout_p: float = 0.) -> torch.Tensor:
    """``softmax(q k^T * scale + bias) v`` for ``(..., L, d)`` queries,
    ``(..., S, d)`` keys and values and a bias broadcastable to
    ``(..., L, S)``.

    Through :func:`F.scaled_dot_product_attention`, except when the bias
    needs its gradient on the CPU: no fused CPU kernel differentiates the
    mask, so SDPA falls back to its math kernel, which materialises the
    map anyway and adds safe-softmax passes over it (``isneginf``, ``all``,
    ``where`` and their backward: 10-12% of an Agent-Swin block's training
    step on a 2-core CPU). Written out, the map is made once and the bias
    added in place.
    """
    if not (bias.requires_grad and torch.is_grad_enabled()
            and branch_device(q) == 'cpu'):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale)
    with fp32_logits(q, k) as (q_, k_):  # as SDPA's fallback: fp32 maths
        attn = torch.matmul(q_ * scale, k_.transpose(-2, -1)).add_(bias)
        attn = attn.softmax(dim=-1)
    if dropout_p:
        attn = F.dropout(attn, dropout_p)
    return torch.matmul(attn.to(v.dtype), v)


# Per-image regions of a batch padded right/bottom (see
# mmagent.models.layers.padding, which records the sizes): the helpers the
# attention kinds that mask padding use.
Size = Tuple[int, int]


def padded_sizes(valid_hw: Optional[Sequence[Size]],
                 hw_shape: Sequence[int]) -> Optional[List[Size]]:
    """``valid_hw`` clipped to the map, or ``None`` when no image is padded
    (then the unmasked path runs, unchanged)."""
    if valid_hw is None:
        return None
    H, W = hw_shape
    sizes = [(min(int(h), H), min(int(w), W)) for h, w in valid_hw]
    if all(s == (H, W) for s in sizes):
        return None
    if any(h < 1 or w < 1 for h, w in sizes):
        raise ValueError(f'an image of the batch has no token left at this '
                         f'stage: sizes {sizes} on a {H}x{W} map')
    return sizes


def token_mask(valid_hw: Sequence[Size], hw_shape: Sequence[int],
               device=None) -> torch.Tensor:
    """``(B, H*W)`` bool mask, True on each image's own tokens."""
    H, W = hw_shape
    rows = torch.arange(H, device=device)
    cols = torch.arange(W, device=device)
    masks = [((rows < h)[:, None] & (cols < w)[None, :]).flatten()
             for h, w in valid_hw]
    return torch.stack(masks)


def per_image_token_map(tokens: torch.Tensor, src_hw: Sequence[int],
                        valid_hw: Sequence[Size],
                        hw_shape: Sequence[int]) -> torch.Tensor:
    """A ``(1, Hs*Ws, C)`` map (position embedding) resized to each image's
    own region, as for that image alone, zero on padding:
    ``(B, H*W, C)``."""
    H, W = hw_shape
    C = tokens.shape[-1]
    out = tokens.new_zeros(len(valid_hw), H, W, C)
    resized = {}
    for b, (h, w) in enumerate(valid_hw):
        if (h, w) not in resized:
            resized[(h, w)] = resize_token_map(tokens, src_hw,
                                               (h, w)).reshape(h, w, C)
        out[b, :h, :w] = resized[(h, w)]
    return out.reshape(len(valid_hw), H * W, C)
