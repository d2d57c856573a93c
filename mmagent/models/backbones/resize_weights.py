# Copyright (c) mmagent contributors. All rights reserved.
"""Fit a checkpoint trained at one resolution to a backbone built for
another: what the official fine-tuning loader does, for every family.

The row/column agent biases (``ah/aw/ha/wa_bias``) are sized by the
pretraining token grid (56/28/14/7 at 224, 96/48/24/12 at 384, ...): they
are resized linearly along their spatial axis. Relative position tables and
absolute position embeddings are resized bicubically (extra tokens such as
DeiT's class token kept), and so is FLatten's ``positional_encoding``.
Index and mask buffers are recomputed by the model, so differently shaped
ones are dropped.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

from ..layers.attention.common import resize_token_map

# official name -> the spatial axis of the row/column agent bias
AGENT_BIAS_AXIS = {'ah_bias': 3, 'aw_bias': 4, 'ha_bias': 2, 'wa_bias': 3}
RECOMPUTED_BUFFERS = ('relative_position_index', 'attn_mask')


def resize_axis(tensor: torch.Tensor, axis: int, size: int) -> torch.Tensor:
    """1-D linear resize (``align_corners=False``) along ``axis``."""
    moved = tensor.movedim(axis, -1)
    shape = moved.shape
    out = F.interpolate(moved.reshape(-1, 1, shape[-1]).float(), size=size,
                        mode='linear', align_corners=False)
    return out.reshape(*shape[:-1], size).movedim(-1, axis).to(tensor.dtype)


def resize_grid(grid: torch.Tensor, src: int, dst: int) -> torch.Tensor:
    """Bicubic resize of ``(src*src, C)`` rows on a square grid (the
    token-map resize of the backbones, in fp32)."""
    resized = resize_token_map(grid[None].float(), (src, src), (dst, dst),
                               mode='bicubic')
    return resized[0].to(grid.dtype)


def _square_split(length: int):
    """``(extra_tokens, side)`` of a position embedding of ``length``
    tokens: a square grid, possibly after one class token."""
    for extra in (0, 1):
        side = math.isqrt(length - extra)
        if side * side == length - extra:
            return extra, side
    return None


def _resize_one(name: str, value: torch.Tensor, target: torch.Size):
    """The resized tensor, or None when ``name`` is not resizable to
    ``target``."""
    leaf = name.rsplit('.', 1)[-1]
    if leaf in AGENT_BIAS_AXIS and value.dim() == len(target) == 5:
        axis = AGENT_BIAS_AXIS[leaf]
        others = [d for i, d in enumerate(value.shape) if i != axis]
        if others == [d for i, d in enumerate(target) if i != axis]:
            return resize_axis(value, axis, target[axis])
    elif leaf == 'relative_position_bias_table' and value.dim() == 2 and \
            value.shape[1] == target[1]:
        src, dst = math.isqrt(value.shape[0]), math.isqrt(target[0])
        if src * src == value.shape[0] and dst * dst == target[0]:
            return resize_grid(value, src, dst)
    elif re.fullmatch(r'pos_embed\d*', leaf) and value.dim() == 3 and \
            value.shape[::2] == target[::2]:
        src, dst = _square_split(value.shape[1]), _square_split(target[1])
        if src and dst and src[0] == dst[0]:
            extra = src[0]
            grid = resize_grid(value[0, extra:], src[1], dst[1])
            return torch.cat([value[0, :extra], grid]).unsqueeze(0)
    elif leaf == 'positional_encoding' and value.dim() == 3 and \
            value.shape[::2] == target[::2]:
        # FLatten's key position encoding: bicubic, as the official
        # fine-tuning loader (inputs of another size resize it bilinearly
        # at run time instead, without changing the weights)
        src, dst = math.isqrt(value.shape[1]), math.isqrt(target[1])
        if src * src == value.shape[1] and dst * dst == target[1]:
            return resize_grid(value[0], src, dst).unsqueeze(0)
    return None


def fit_resolution(state_dict: Dict[str, torch.Tensor],
                   own: Dict[str, torch.Tensor]
                   ) -> Tuple['OrderedDict', List[str]]:
    """Resize the resolution-dependent tensors of ``state_dict`` whose shape
    differs from ``own`` (the model's state dict); returns the new state
    dict and one ``'name: old -> new'`` line per change. Other shape
    mismatches are left for the caller to report."""
    fitted, changes = OrderedDict(), []
    for name, value in state_dict.items():
        target = own[name].shape if name in own else None
        if target is None or value.shape == target:
            fitted[name] = value
            continue
        if name.rsplit('.', 1)[-1] in RECOMPUTED_BUFFERS:
            changes.append(f'{name}: dropped (recomputed)')
            continue
        resized = _resize_one(name, value, target)
        if resized is None:
            fitted[name] = value
            continue
        changes.append(f'{name}: {tuple(value.shape)} -> {tuple(target)}')
        fitted[name] = resized
    return fitted, changes
