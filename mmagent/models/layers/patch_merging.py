# Copyright (c) mmagent contributors. All rights reserved.
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class PatchMerging(BaseModule):
    """2x2 patch merging with the official Swin channel order; odd sizes
    are padded right/bottom.

    Shapes: ``(B, H*W, C)``, ``(H, W)`` -> ``(B, ceil(H/2)*ceil(W/2), 2C)``
    and the new ``(H, W)``.
    """

    def __init__(self, embed_dims: int, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.norm = nn.LayerNorm(4 * embed_dims)
        self.reduction = nn.Linear(4 * embed_dims, 2 * embed_dims, bias=False)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]):
        B, _, C = x.shape
        H, W = hw_shape
        x = x.view(B, H, W, C)
        Hh, Wh = (H + 1) // 2, (W + 1) // 2  # ceil: odd sizes are padded
        x = F.pad(x, (0, 0, 0, 2 * Wh - W, 0, 2 * Hh - H))
        # each 2x2 neighbourhood as (0,0), (1,0), (0,1), (1,1) (row, column
        # offsets), the official concatenation order; a view instead of
        # strided slices, whose sizes grow complex when the input size is
        # free (export)
        x = x.view(B, Hh, 2, Wh, 2, C).permute(0, 1, 3, 4, 2, 5)
        x = self.reduction(self.norm(x.reshape(B, Hh * Wh, 4 * C)))
        return x, (Hh, Wh)
