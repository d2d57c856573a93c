# Copyright (c) mmagent contributors. All rights reserved.
"""Training-time pieces for mmengine's Runner: crash-safe checkpoints, a
resume that loses nothing, mixed precision on CPU, BiViT's cross-layer
binarization, the tools' ``--compile`` and the set-up ``tools/train.py``
and ``tools/test.py`` share."""
from .amp import CPUAmpOptimWrapper, configure_amp
from .binarization import CrossLayerBinarizationHook
from .checkpointing import (SafeCheckpointHook, check_checkpoints,
                            find_resumable_checkpoint,
                            use_safe_checkpoint_hook)
from .compiling import compile_backbone, pop_compile_options
from .resume import (ReseedEachIterationHook, make_resumable,
                     take_seed_of_checkpoint)
from .tool_setup import (add_common_arguments, build_runner, load_tool_config,
                         parse_tool_args)

__all__ = [
    'CPUAmpOptimWrapper', 'configure_amp', 'CrossLayerBinarizationHook',
    'SafeCheckpointHook',
    'check_checkpoints', 'find_resumable_checkpoint',
    'use_safe_checkpoint_hook', 'compile_backbone', 'pop_compile_options',
    'ReseedEachIterationHook', 'make_resumable', 'take_seed_of_checkpoint',
    'add_common_arguments', 'parse_tool_args', 'load_tool_config',
    'build_runner'
]
