# Copyright (c) mmagent contributors. All rights reserved.
"""The pre-norm transformer block shared by every backbone family."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from mmengine.model import BaseModule, ModuleList

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
    """``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(mlp(norm2(x)))``:
    the pre-norm block of every family.

    Args:
        embed_dims (int): Channels ``C``.
        attn (nn.Module | Sequence[nn.Module]): The token mixer, called as
            ``attn(tokens, hw_shape)`` and stored under the official name
            ``attn``; or CSWin's layout, stored as ``attns``: with
            ``qkv_bias`` set, the block owns ``qkv`` and ``proj`` and the
            one or two branches each take their channel half of
            ``(q, k, v)`` as ``branch((q, k, v), hw_shape)``; without it,
            one self-contained mixer.
        mlp_ratio (float): Hidden width of the MLP relative to ``C``.
        drop (float): Dropout inside the MLP. Default: 0.
        drop_path (float): Stochastic depth rate. Default: 0.
        norm_cfg (dict): Config of ``norm1``/``norm2``.
        act_cfg (dict): Activation of the MLP. Default: GELU.
        with_cp (bool): Gradient checkpointing (saves memory, costs one
            recomputation of the block in backward). Default: False.
        mlp_dwconv (bool): PVTv2's depth-wise conv inside the MLP.
            Default: False.
        qkv_bias (bool, optional): Bias of the block's own ``qkv`` (CSWin's
            layout only). Default: None.

    Shapes:
        - x: ``(B, H*W, C)``; hw_shape: ``(H, W)``; output ``(B, H*W, C)``.
        - valid_hw (optional): each image's ``(h, w)`` region in a batch
          padded right/bottom; given to attention kinds that mask padding
          (``masks_padding``), ignored by the others.
    """

    def __init__(self,
                 embed_dims: int,
                 attn: Union[nn.Module, Sequence[nn.Module]],
                 mlp_ratio: float,
                 drop: float = 0.,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 with_cp: bool = False,
                 mlp_dwconv: bool = False,
                 qkv_bias: Optional[bool] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.branches = not isinstance(attn, nn.Module)
        if self.branches and not (
                len(attn) in (1, 2) and (qkv_bias is not None or
                                         len(attn) == 1)):
            raise ValueError(f'CSWin\'s layout has 1 or 2 branches (1 '
                             f'without the block\'s qkv), got {len(attn)}')
        self.project = self.branches and qkv_bias is not None
        if self.project:
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        if self.project:
            self.proj = nn.Linear(embed_dims, embed_dims)
        if self.branches:
            self.attns = ModuleList(attn)
        else:
            self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), act_cfg, drop,
                  dwconv=mlp_dwconv)
        # registration order = the official parameter order, which the
        # optimizer state of a resumed run follows (CSWin: mlp, then norm2)
        if self.branches:
            self.mlp = mlp
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        if not self.branches:
            self.mlp = mlp

    def _mix(self, x: torch.Tensor, hw_shape: Sequence[int], valid_hw=None):
        if not self.branches:
            if valid_hw is not None and getattr(self.attn, 'masks_padding',
                                                False):
                return self.attn(x, hw_shape, valid_hw=valid_hw)
            return self.attn(x, hw_shape)
        if not self.project:
            return self.attns[0](x, hw_shape)
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, C).unbind(2)
        if len(self.attns) == 1:
            return self.proj(self.attns[0]((q, k, v), hw_shape))
        half = C // 2
        return self.proj(torch.cat([
            branch((q[..., part], k[..., part], v[..., part]), hw_shape)
            for branch, part in zip(self.attns, (slice(None, half),
                                                 slice(half, None)))
        ], dim=-1))

    def _forward(self, x: torch.Tensor, hw_shape: Sequence[int],
                 valid_hw=None):
        x = x + self.drop_path(self._mix(self.norm1(x), hw_shape, valid_hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw_shape, valid_hw))

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int],
                valid_hw: Optional[Sequence[Sequence[int]]] = None
                ) -> torch.Tensor:
        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw_shape, valid_hw,
                                 use_reentrant=False)
        return self._forward(x, hw_shape, valid_hw)
