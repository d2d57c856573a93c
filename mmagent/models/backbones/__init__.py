# Copyright (c) mmagent contributors. All rights reserved.
"""Backbone families, one file each, registered in MMEngine's root MODELS."""
from .agent_cswin import AgentCSWin
from .agent_deit import AgentDeiT
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .base import AttentionBackbone
from .flatten import (FLattenCSWin, FLattenPVT, FLattenPVTv2,
                      FLattenSwinTransformer)

#: The official ImageNet layouts, in the order a checkpoint is matched
#: against them (PVT v1 before v2: both have ``patch_embed1``).
OFFICIAL_LAYOUTS = (AgentPVT.official_layout, FLattenPVTv2.official_layout,
                    AgentSwinTransformer.official_layout,
                    AgentCSWin.official_layout, AgentDeiT.official_layout)

__all__ = [
    'OFFICIAL_LAYOUTS', 'AttentionBackbone', 'AgentCSWin', 'AgentDeiT', 'AgentPVT',
    'AgentSwinTransformer', 'FLattenCSWin', 'FLattenPVT', 'FLattenPVTv2',
    'FLattenSwinTransformer'
]
