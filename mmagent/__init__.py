# Copyright (c) mmagent contributors. All rights reserved.
"""mmagent: Agent Attention backbones for OpenMMLab 2.0.

``import mmagent`` (or ``custom_imports=dict(imports=['mmagent'])`` in a
config) registers ``AgentPVT`` and ``AgentSwinTransformer`` in MMEngine's root
``MODELS`` registry, where mmdet, mmseg and mmpretrain all find them, and
makes mmengine's checkpoint loading work on torch>=2.6.
"""
from .utils.compat import patch_checkpoint_loading
from .version import __version__

patch_checkpoint_loading()

from .backbones import AgentPVT, AgentSwinTransformer  # noqa: E402

__all__ = ['__version__', 'AgentPVT', 'AgentSwinTransformer']
