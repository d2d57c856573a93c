# Copyright (c) mmagent contributors. All rights reserved.
"""Helpers shared by the attention kinds."""
import contextlib

import torch


@contextlib.contextmanager
def fp32_logits(*tensors: torch.Tensor):
    """Yield the tensors in fp32 with autocast off when any is in reduced
    precision, so attention logits and softmax are computed in fp32 (fp16
    overflows at 65504); fp32 tensors pass through untouched."""
    if all(t.dtype == torch.float32 for t in tensors):
        yield tensors
        return
    with torch.autocast(tensors[0].device.type, enabled=False):
        yield tuple(t.float() for t in tensors)
