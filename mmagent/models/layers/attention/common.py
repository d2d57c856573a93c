# Copyright (c) mmagent contributors. All rights reserved.
"""Helpers shared by the attention kinds."""
import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F


@contextlib.contextmanager
def fp32_logits(*tensors: torch.Tensor):
    """Yield the tensors in fp32 with autocast off when any is in reduced
    precision, so attention logits and softmax are computed in fp32 (fp16
    overflows at 65504); fp32 tensors pass through untouched."""
    if all(t.dtype == torch.float32 for t in tensors):
        yield tensors
        return
    with torch.autocast(tensors[0].device.type, enabled=False):
        yield tuple(t.float() for t in tensors)


def resize_token_map(tokens: torch.Tensor, src_hw: Sequence[int],
                     dst_hw: Sequence[int]) -> torch.Tensor:
    """``(1, Hs*Ws, C)`` tokens of an ``src_hw`` grid resized (bilinear,
    align_corners=False) as a 2-D map to ``dst_hw``: ``(1, Hd*Wd, C)``;
    returned as they are when the grids agree."""
    if tuple(src_hw) == tuple(dst_hw):
        return tokens
    C = tokens.shape[-1]
    grid = tokens.reshape(1, *src_hw, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(dst_hw), mode='bilinear',
                         align_corners=False)
    return grid.flatten(2).transpose(1, 2)
