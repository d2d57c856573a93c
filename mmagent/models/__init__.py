# Copyright (c) mmagent contributors. All rights reserved.
from .backbones import (AgentCSWin, AgentDeiT, AgentPVT,
                        AgentSwinTransformer, AttentionBackbone)
from .binarize import binarize_backbone, switch_to_deploy
from .layers import ATTENTIONS, build_attention, register_attention

__all__ = [
    'AgentCSWin', 'AgentDeiT', 'AgentPVT', 'AgentSwinTransformer',
    'AttentionBackbone', 'ATTENTIONS',
    'build_attention', 'register_attention', 'binarize_backbone',
    'switch_to_deploy'
]
