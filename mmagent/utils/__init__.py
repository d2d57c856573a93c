# Copyright (c) mmagent contributors. All rights reserved.
"""Library helpers, one job per module; nothing here builds a model.

- ``checkpoint``: reading every checkpoint flavour; ``compat``: mmengine's
  loaders on torch>=2.6; ``convert``: official downstream checkpoints.
- ``config``: loading configs, work-dir rule; ``distributed``: CPU gloo runs;
  ``data_check``: missing-dataset message.
- ``model_zoo``: model-index names -> configs; ``image_io``: reading user
  images; ``flops``: FLOPs with the SDPA rule; ``profiling``: peak memory.
"""
from .checkpoint import (CheckpointLoadError, UnsafeCheckpointError,
                         extract_state_dict, inspect_checkpoint,
                         load_checkpoint_file, torch_load,
                         trust_checkpoints)
from .compat import patch_checkpoint_loading

__all__ = [
    'CheckpointLoadError', 'UnsafeCheckpointError', 'extract_state_dict',
    'inspect_checkpoint', 'load_checkpoint_file', 'torch_load',
    'trust_checkpoints', 'patch_checkpoint_loading'
]
