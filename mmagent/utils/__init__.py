from .checkpoint import (CheckpointLoadError, extract_state_dict,
                         load_checkpoint_file, torch_load)
from .compat import patch_checkpoint_loading

__all__ = [
    'CheckpointLoadError', 'extract_state_dict', 'load_checkpoint_file',
    'torch_load', 'patch_checkpoint_loading'
]
