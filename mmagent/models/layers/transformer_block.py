# Copyright (c) mmagent contributors. All rights reserved.
"""The pre-norm transformer block shared by every backbone family."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule

from .padding import zero_padding


class DWConv(BaseModule):
    """PVTv2's 3x3 depth-wise conv on a token map (official key
    ``dwconv.dwconv``). Shapes: ``(B, H*W, C)``, ``(H, W)`` -> same."""

    def __init__(self, channels: int, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.dwconv = nn.Conv2d(channels, channels, 3, padding=1,
                                groups=channels)

    def forward(self, x: torch.Tensor,
                hw_shape: Sequence[int]) -> torch.Tensor:
        B, N, C = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(B, C, *hw_shape))
        return x.flatten(2).transpose(1, 2)


class Mlp(BaseModule):
    """``fc1 -> [dwconv] -> act -> drop -> fc2 -> drop`` (official key
    names); ``dwconv=True`` adds PVTv2's depth-wise conv on the hidden map.

    Shapes: ``(B, N, C) -> (B, N, C)``; ``hw_shape`` is needed with the
    conv; ``valid_hw`` (each image's region in a padded batch) zeroes the
    padded hidden tokens before it, as the conv's zero padding of an image
    alone.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: int,
                 act_cfg: dict = dict(type='GELU'),
                 drop: float = 0.,
                 dwconv: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.dwconv = DWConv(hidden_features) if dwconv else None
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor,
                hw_shape: Optional[Sequence[int]] = None,
                valid_hw: Optional[Sequence[Sequence[int]]] = None
                ) -> torch.Tensor:
        x = self.fc1(x)
        if self.dwconv is not None:
            x = self.dwconv(zero_padding(x, hw_shape, valid_hw), hw_shape)
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))


class TransformerBlock(BaseModule):
    """``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(mlp(norm2(x)))``.

    Args:
        embed_dims (int): Channels ``C``.
        attn (nn.Module): Token mixer called as ``attn(tokens, hw_shape)``;
            it is stored under the official name ``attn``.
        mlp_ratio (float): Hidden width of the MLP relative to ``C``.
        drop (float): Dropout inside the MLP. Default: 0.
        drop_path (float): Stochastic depth rate. Default: 0.
        norm_cfg (dict): Config of ``norm1``/``norm2``.
        act_cfg (dict): Activation of the MLP. Default: GELU.
        with_cp (bool): Gradient checkpointing (saves memory, costs one
            recomputation of the block in backward). Default: False.
        mlp_dwconv (bool): PVTv2's depth-wise conv inside the MLP.
            Default: False.

    Shapes:
        - x: ``(B, H*W, C)``; hw_shape: ``(H, W)``; output ``(B, H*W, C)``.
        - valid_hw (optional): each image's ``(h, w)`` region in a batch
          padded right/bottom; given to attention kinds that mask padding
          (``masks_padding``), ignored by the others.
    """

    def __init__(self,
                 embed_dims: int,
                 attn: nn.Module,
                 mlp_ratio: float,
                 drop: float = 0.,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 with_cp: bool = False,
                 mlp_dwconv: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), act_cfg, drop,
                       dwconv=mlp_dwconv)

    def _forward(self, x: torch.Tensor, hw_shape: Sequence[int],
                 valid_hw=None):
        if valid_hw is not None and getattr(self.attn, 'masks_padding',
                                            False):
            attn = self.attn(self.norm1(x), hw_shape, valid_hw=valid_hw)
        else:
            attn = self.attn(self.norm1(x), hw_shape)
        x = x + self.drop_path(attn)
        return x + self.drop_path(self.mlp(self.norm2(x), hw_shape, valid_hw))

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int],
                valid_hw: Optional[Sequence[Sequence[int]]] = None
                ) -> torch.Tensor:
        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, valid_hw,
                                 use_reentrant=False)
        return self._forward(x, hw_shape, valid_hw)
