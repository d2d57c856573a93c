# Copyright (c) mmagent contributors. All rights reserved.
"""mmagent: efficient-attention backbones for OpenMMLab 2.0.

``import mmagent`` (or ``custom_imports=dict(imports=['mmagent'])`` in a
config) registers the backbone families (``AgentPVT``,
``AgentSwinTransformer``, ``AgentDeiT``, ``AgentCSWin``) in MMEngine's
root ``MODELS`` registry, where
mmdet, mmseg and mmpretrain all find them, registers the attention kinds in
:data:`mmagent.models.ATTENTIONS`, and makes mmengine's checkpoint loading
work on torch>=2.6. Layers: ``mmagent.models`` (attention kinds, blocks,
backbone families), ``mmagent.tasks`` (what differs between detection,
segmentation and classification), ``mmagent.apis`` (inference),
``mmagent.utils`` (config, distributed, data checks, checkpoints, model zoo,
image reading, FLOPs); see docs/architecture.md.
"""
from .utils.compat import patch_checkpoint_loading
from .version import __version__

patch_checkpoint_loading()

from . import datasets, engine  # noqa: E402,F401  (registrations)
from .models import (AgentCSWin, AgentDeiT, AgentPVT,  # noqa: E402
                     AgentSwinTransformer)

__all__ = [
    '__version__', 'AgentCSWin', 'AgentDeiT', 'AgentPVT',
    'AgentSwinTransformer', 'list_models', 'get_model'
]


def __getattr__(name):
    # mmagent.list_models / mmagent.get_model without importing the task
    # libraries at ``import mmagent``
    if name in ('list_models', 'get_model'):
        from . import apis
        return getattr(apis, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
