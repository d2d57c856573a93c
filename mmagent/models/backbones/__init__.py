# Copyright (c) mmagent contributors. All rights reserved.
"""Backbone families, one file each, registered in MMEngine's root MODELS."""
from .agent_cswin import AgentCSWin
from .agent_deit import AgentDeiT
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .base import AttentionBackbone
from .flatten import (FLattenCSWin, FLattenPVT, FLattenPVTv2,
                      FLattenSwinTransformer)

__all__ = [
    'AttentionBackbone', 'AgentCSWin', 'AgentDeiT', 'AgentPVT',
    'AgentSwinTransformer', 'FLattenCSWin', 'FLattenPVT', 'FLattenPVTv2',
    'FLattenSwinTransformer'
]
