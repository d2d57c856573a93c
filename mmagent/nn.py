# Copyright (c) mmagent contributors. All rights reserved.
"""The attention kinds as drop-in modules for plain PyTorch code.

:class:`AgentAttention` and :class:`FocusedLinearAttention` take ``(B, N,
C)`` tokens and return ``(B, N, C)``:

- a 2-D token map: ``attn(x, hw=(H, W))``, ``N = H * W`` in row-major
  order, any ``H`` and ``W`` (non-square, and not the size the position
  terms were learnt at: they are resized to every input);
- a 1-D sequence: build with ``sequence=True`` and call ``attn(x)``. The
  sequence is a ``1 x N`` map: the agents are pooled along it (adaptive
  average pooling over contiguous segments), the depth-wise conv runs along
  it with a ``1 x k`` kernel, and the learned position terms are resized
  along it.

They are the modules of the backbones (the same maths and parameter names,
:mod:`mmagent.models.layers.attention`) with a plain transformer block's
layout: one fused ``qkv`` Linear and an output ``proj``. The other kinds
(Swin's :class:`WindowAttention`, PVT's
:class:`SpatialReductionAttention`, DeiT's :class:`GlobalAttention`,
CSWin's :class:`StripeAttention`) are exported as the backbones use them,
``forward(x, hw_shape)`` on 2-D maps. Example, agent attention in a timm
ViT (its blocks call ``attn(x)`` on the class token plus a 14x14 map)::

    import timm
    from mmagent.nn import AgentAttention

    vit = timm.create_model('vit_small_patch16_224')
    for block in vit.blocks:
        block.attn = AgentAttention(384, num_heads=6, agent_num=49,
                                    num_extra_tokens=1, hw=(14, 14))
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .models.layers.attention import agent as _agent
from .models.layers.attention import focused_linear as _focused
from .models.layers.attention.global_softmax import GlobalAttention
from .models.layers.attention.spatial_reduction import \
    SpatialReductionAttention
from .models.layers.attention.stripe import StripeAttention
from .models.layers.attention.window import WindowAttention

__all__ = [
    'AgentAttention', 'FocusedLinearAttention', 'WindowAttention',
    'SpatialReductionAttention', 'GlobalAttention', 'StripeAttention'
]

#: The grid the position terms are learnt at by default: 224 / 16.
DEFAULT_GRID = (14, 14)


def _grid(kind: str, x: torch.Tensor, hw, default_hw, sequence: bool,
          extra: int = 0) -> Tuple[int, int]:
    """The ``(H, W)`` map of ``x`` ``(B, E + N, C)`` for this call."""
    if x.dim() != 3:
        raise ValueError(f'{kind} takes (B, N, C) tokens, got a tensor of '
                         f'shape {tuple(x.shape)}')
    n = x.shape[1] - extra
    if sequence:
        if hw is not None:
            raise ValueError(f'{kind} was built with sequence=True: call it '
                             f'without hw')
        return 1, n
    hw = hw if hw is not None else default_hw
    if hw is None:
        raise ValueError(
            f'{kind} needs the token map: call attn(x, hw=(H, W)) or build '
            f'it with hw=(H, W) (or sequence=True for 1-D sequences)')
    H, W = (int(s) for s in hw)
    if H * W != n:
        raise ValueError(f'{kind}: {n} tokens do not form the {H}x{W} map '
                         f'(hw={tuple(hw)})')
    return H, W


def _no_mask(kind: str, attn_mask, is_causal: bool) -> None:
    """Refuse what timm's blocks may pass: these kinds have no token map
    to mask (agents mix every token) and no causal form."""
    if attn_mask is not None or is_causal:
        raise ValueError(f'{kind} takes no attn_mask and is not causal')


def _learned_grid(size, sequence: bool) -> Tuple[int, int]:
    """The grid a module's position terms are learnt at: ``size`` (or
    :data:`DEFAULT_GRID`) for maps, ``(1, size)`` (default 196) for
    sequences."""
    if sequence:
        return 1, int(size or math.prod(DEFAULT_GRID))
    return tuple(size or DEFAULT_GRID)


class _DropIn:
    """What both drop-in kinds add to their backbone kind: the layout
    (``sequence``), the default map, a ``1 x k`` DWC for sequences and the
    ``(B, N, C)`` forward."""

    def _set_layout(self, sequence: bool, hw, dwc_channels: int,
                    kernel_size: int) -> None:
        self.sequence = sequence
        self.default_hw = None if hw is None else tuple(hw)
        if sequence:
            self.dwc = _sequence_dwc(dwc_channels, kernel_size)

    def forward(self, x: torch.Tensor, hw: Optional[Sequence[int]] = None,
                attn_mask: Optional[torch.Tensor] = None,
                is_causal: bool = False) -> torch.Tensor:
        kind = type(self).__name__
        _no_mask(kind, attn_mask, is_causal)
        return super().forward(
            x, _grid(kind, x, hw, self.default_hw, self.sequence,
                     getattr(self, 'num_extra_tokens', 0)))


def _sequence_dwc(channels: int, kernel_size: int) -> nn.Conv2d:
    """A depth-wise conv along a ``1 x N`` map."""
    return nn.Conv2d(channels, channels, (1, kernel_size),
                     padding=(0, kernel_size // 2), groups=channels)


class AgentAttention(_DropIn, _agent.AgentAttention):
    """Agent attention (Han et al., ECCV 2024) for your own transformer.

    Args:
        dim (int): Channels ``C``.
        num_heads (int): Heads. Default: 8.
        agent_num (int): Agents, a perfect square (the biases are learnt on
            a ``p x p`` agent grid); on a 2-D map they are pooled to that
            grid, on a sequence to ``agent_num`` segments. Default: 49.
        qkv_bias (bool): Bias in ``qkv``. Default: True.
        attn_drop, proj_drop (float): Dropout. Default: 0.
        kernel_size (int): Depth-wise conv on V. Default: 3.
        num_extra_tokens (int): Leading tokens off the map (a class token):
            they attend and are attended through their own biases, and are
            neither pooled nor convolved. Default: 0.
        sequence (bool): 1-D sequences instead of 2-D maps. Default: False.
        hw (tuple[int, int], optional): The map when ``forward`` is called
            without one (timm's ``attn(x)``).
        bias_size (int | tuple[int, int], optional): The map (or sequence
            length) the row/column biases are learnt at. Default: 14x14, or
            196 for sequences.

    Shapes:
        - x: ``(B, E + N, C)``; output: the same.
    """

    def __init__(self, dim: int, num_heads: int = 8, agent_num: int = 49,
                 qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0., kernel_size: int = 3,
                 num_extra_tokens: int = 0, sequence: bool = False,
                 hw: Optional[Sequence[int]] = None,
                 bias_size: Union[int, Sequence[int], None] = None):
        side = math.isqrt(agent_num)
        agent_shape = (1, agent_num) if sequence else (side, side)
        super().__init__(dim, num_heads, agent_num, agent_shape,
                         _learned_grid(bias_size, sequence), fused_qkv=True,
                         qkv_bias=qkv_bias, attn_drop=attn_drop,
                         proj_drop=proj_drop, kernel_size=kernel_size,
                         num_extra_tokens=num_extra_tokens)
        self._set_layout(sequence, hw, dim, kernel_size)


class FocusedLinearAttention(_DropIn, _focused.FocusedLinearAttention):
    """Focused linear attention (FLatten, Han et al., ICCV 2023) for your own
    transformer.

    Args:
        dim (int): Channels ``C``.
        num_heads (int): Heads. Default: 8.
        qkv_bias (bool): Bias in ``qkv``. Default: True.
        proj_drop (float): Dropout. Default: 0.
        focusing_factor (float): The power of the focusing function.
            Default: 3.
        kernel_size (int): Depth-wise conv on V (one ``d``-channel conv
            shared by the heads). Default: 5.
        sequence (bool): 1-D sequences instead of 2-D maps. Default: False.
        hw (tuple[int, int], optional): The map when ``forward`` is called
            without one.
        pos_size (int | tuple[int, int], optional): The map (or sequence
            length) the positional encoding is learnt at. Default: 14x14, or
            196 for sequences.

    Shapes:
        - x: ``(B, N, C)``; output: the same.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True,
                 proj_drop: float = 0., focusing_factor: float = 3,
                 kernel_size: int = 5, sequence: bool = False,
                 hw: Optional[Sequence[int]] = None,
                 pos_size: Union[int, Sequence[int], None] = None):
        super().__init__(dim, num_heads, _learned_grid(pos_size, sequence),
                         fused_qkv=True, qkv_bias=qkv_bias,
                         proj_drop=proj_drop,
                         focusing_factor=focusing_factor,
                         kernel_size=kernel_size)
        self._set_layout(sequence, hw, self.head_dims, kernel_size)
