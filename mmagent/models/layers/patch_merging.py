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
        x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2],
                       x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        hw = (x.shape[1], x.shape[2])
        x = self.reduction(self.norm(x.view(B, -1, 4 * C)))
        return x, hw
