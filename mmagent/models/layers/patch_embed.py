# Copyright (c) mmagent contributors. All rights reserved.
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class PatchEmbed(BaseModule):
    """Patch embedding: ``Conv(k=s=patch) -> LayerNorm``, or with
    ``kernel_size`` the overlapping form of PVTv2 (``Conv(k, stride=patch,
    padding=k // 2)``).

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels ``C``.
        patch_size (int): Stride (and kernel size unless ``kernel_size``).
        pad_input (bool): Pad right/bottom to a multiple of ``patch_size``
            (Swin). ``False`` floors the size and drops the remainder pixels,
            as the official PVT does.
        norm (bool): Apply ``LayerNorm(C)`` (eps 1e-5). Default: True.
        kernel_size (int, optional): An overlapping kernel (PVTv2: 7 at
            stride 4, 3 at stride 2), zero-padded by ``kernel_size // 2``.

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
                 kernel_size: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.patch_size = patch_size
        self.pad_input = pad_input
        kernel = kernel_size or patch_size
        self.kernel_size = kernel
        self.padding = kernel // 2 if kernel_size else 0
        self.proj = nn.Conv2d(
            in_channels, embed_dims, kernel_size=kernel, stride=patch_size,
            padding=kernel // 2 if kernel_size else 0)
        self.norm = nn.LayerNorm(embed_dims) if norm else None

    def output_size(self, hw: Sequence[int]) -> Tuple[int, int]:
        """The token grid of an ``(H, W)`` input: for an image inside a
        padded batch, the tokens that see only that image (and the zero
        padding it would have alone)."""
        p, k, pad = self.patch_size, self.kernel_size, self.padding
        if self.pad_input:
            return tuple((s + p - 1) // p for s in hw)  # ceil, exportable
        return tuple((s + 2 * pad - k) // p + 1 for s in hw)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        H, W = x.shape[-2:]
        p = self.patch_size
        if self.pad_input:
            x = F.pad(x, (0, (W + p - 1) // p * p - W,
                          0, (H + p - 1) // p * p - H))
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
