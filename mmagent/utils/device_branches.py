# Copyright (c) mmagent contributors. All rights reserved.
"""One switch for the operations whose algorithm depends on the device.

A few operations pick their implementation by the device of their inputs
(the list, with what picks each branch, is in docs/performance.md). Both
branches are written to compute the same thing; :func:`branches_of` makes
them take the branch of another device type, so the GPU's branch runs,
and is tested against the CPU's, on a machine without a GPU.
"""
import contextlib
from typing import Iterator, Optional

import torch

_forced: Optional[str] = None


def branch_device(tensor: torch.Tensor) -> str:
    """The device type whose branch an operation on ``tensor`` takes:
    ``tensor.device.type``, unless :func:`branches_of` says otherwise."""
    return _forced or tensor.device.type


@contextlib.contextmanager
def branches_of(device_type: str) -> Iterator[None]:
    """Within the block, device-chosen operations take the branch of
    ``device_type`` (``'cpu'`` or ``'cuda'``) whatever their inputs' device;
    the inputs stay where they are."""
    global _forced
    if device_type not in ('cpu', 'cuda'):
        raise ValueError(f"branches_of takes 'cpu' or 'cuda', got "
                         f'{device_type!r}')
    previous, _forced = _forced, device_type
    try:
        yield
    finally:
        _forced = previous
