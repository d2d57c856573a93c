# Copyright (c) mmagent contributors. All rights reserved.
"""Attention kinds, one file each, registered in :data:`ATTENTIONS`.

Every module of this package is imported here, so a new kind is one file
with ``@register_attention(name, code)``: nothing else to edit. See
``registry.py`` for how a backbone family builds them and
``docs/architecture.md`` for the smallest example.
"""
import importlib
import pkgutil

from .agent import AgentAttention, resize_bilinear
from .registry import (ATTENTIONS, SOFTMAX, STAGE_CODES, BlockContext,
                       block_kinds, build_attention, init_parameters,
                       parse_block_codes, register_attention)
from .spatial_reduction import SpatialReductionAttention
from .window import (WindowAttention, shifted_window_mask, window_partition,
                     window_reverse)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f'{__name__}.{_module.name}')

__all__ = [
    'ATTENTIONS', 'SOFTMAX', 'STAGE_CODES', 'BlockContext', 'block_kinds',
    'build_attention', 'init_parameters',
    'parse_block_codes', 'register_attention', 'AgentAttention',
    'resize_bilinear', 'SpatialReductionAttention', 'WindowAttention',
    'shifted_window_mask', 'window_partition', 'window_reverse'
]
