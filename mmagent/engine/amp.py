# Copyright (c) mmagent contributors. All rights reserved.
"""Mixed precision for ``tools/train.py --amp`` on GPU and on CPU."""
import contextlib

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

AMP_WRAPPERS = ('AmpOptimWrapper', 'CPUAmpOptimWrapper')


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under CPU autocast in bfloat16.

    mmengine's ``AmpOptimWrapper`` asserts a GPU/NPU. bfloat16 has float32's
    range, so no loss scaling is needed; the weights, gradients and
    optimizer state stay float32, and the attention logits are computed in
    float32 by the attention kinds themselves.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be bfloat16 or '
                             f'float16, got {dtype!r}')
        self.cast_dtype = getattr(torch, dtype)

    @contextlib.contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield


def configure_amp(cfg, requested: bool) -> None:
    """``--amp``: fp16 ``AmpOptimWrapper`` with dynamic loss scaling on a
    GPU, bf16 :class:`CPUAmpOptimWrapper` without one. A config that asks
    for ``AmpOptimWrapper`` on a machine without GPU gets the CPU one, with
    a message, instead of mmengine's assertion once training starts."""
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    gpu = torch.cuda.is_available()
    if kind == 'AmpOptimWrapper' and not gpu:
        print('AmpOptimWrapper needs a GPU: using CPUAmpOptimWrapper (bf16 '
              'autocast) instead')
        wrapper.type = 'CPUAmpOptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
    elif requested and kind in AMP_WRAPPERS:
        print('AMP is already enabled in the config.')
    elif requested and gpu:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    elif requested:
        wrapper.type = 'CPUAmpOptimWrapper'
