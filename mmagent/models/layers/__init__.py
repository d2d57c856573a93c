# Copyright (c) mmagent contributors. All rights reserved.
"""Building blocks shared by every backbone family."""
from .attention import (ATTENTIONS, AgentAttention, BlockContext,
                        SpatialReductionAttention, WindowAttention,
                        block_kinds, build_attention,
                        parse_block_codes, register_attention,
                        resize_bilinear, shifted_window_mask,
                        window_partition, window_reverse)
from .patch_embed import PatchEmbed
from .patch_merging import PatchMerging
from .transformer_block import Mlp, TransformerBlock

__all__ = [
    'ATTENTIONS', 'AgentAttention', 'BlockContext',
    'SpatialReductionAttention',
    'WindowAttention', 'block_kinds', 'build_attention', 'parse_block_codes',
    'register_attention', 'resize_bilinear', 'shifted_window_mask',
    'window_partition', 'window_reverse', 'PatchEmbed', 'PatchMerging', 'Mlp',
    'TransformerBlock'
]
