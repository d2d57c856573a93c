from .agent_attention import AgentAttention, resize_bilinear
from .patch_embed import PatchEmbed
from .transformer_block import Mlp, TransformerBlock
from .window_attention import (WindowAttention, shifted_window_mask,
                               window_partition, window_reverse)

__all__ = [
    'AgentAttention', 'resize_bilinear', 'PatchEmbed', 'Mlp',
    'TransformerBlock', 'WindowAttention', 'shifted_window_mask',
    'window_partition', 'window_reverse'
]
