# Copyright (c) mmagent contributors. All rights reserved.
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class PatchEmbed(BaseModule):
    """Non-overlapping patch embedding: ``Conv(k=s=patch) -> LayerNorm``.

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels ``C``.
        patch_size (int): Kernel size and stride.
        pad_input (bool): Pad right/bottom to a multiple of ``patch_size``
            (Swin). ``False`` floors the size and drops the remainder pixels,
            as the official PVT does.
        norm (bool): Apply ``LayerNorm(C)`` (eps 1e-5). Default: True.

    Shapes:
        - x: ``(B, in_channels, H, W)``.
        - output: ``(B, H' * W', C)`` and ``(H', W')``.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 patch_size: int,
                 pad_input: bool,
                 norm: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.patch_size = patch_size
        self.pad_input = pad_input
        self.proj = nn.Conv2d(
            in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims) if norm else None

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        H, W = x.shape[-2:]
        p = self.patch_size
        if self.pad_input:
            x = F.pad(x, (0, (p - W % p) % p, 0, (p - H % p) % p))
        elif H < p or W < p:
            raise ValueError(
                f'a {H}x{W} map is smaller than the {p}x{p} patch of this '
                f'stage; the input image is too small for this backbone')
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw
