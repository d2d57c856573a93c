# Copyright (c) mmagent contributors. All rights reserved.
"""Attention kinds, one file each, registered in :data:`ATTENTIONS`.

Importing this package registers every kind; see ``registry.py`` for how a
backbone family builds them and ``docs/architecture.md`` for adding one.
"""
from .agent import AgentAttention, resize_bilinear
from .registry import (ATTENTIONS, SOFTMAX, STAGE_CODES, block_kinds,
                       build_attention, parse_block_codes,
                       register_attention)
from .spatial_reduction import SpatialReductionAttention
from .window import (WindowAttention, shifted_window_mask, window_partition,
                     window_reverse)

__all__ = [
    'ATTENTIONS', 'SOFTMAX', 'STAGE_CODES', 'block_kinds', 'build_attention',
    'parse_block_codes', 'register_attention', 'AgentAttention',
    'resize_bilinear', 'SpatialReductionAttention', 'WindowAttention',
    'shifted_window_mask', 'window_partition', 'window_reverse'
]
