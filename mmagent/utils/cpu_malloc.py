# Copyright (c) mmagent contributors. All rights reserved.
"""Reuse of freed host memory for CPU training and inference.

glibc hands every allocation above its mmap threshold (32 MiB at most) to
the kernel and unmaps it on free, so each large tensor of a forward or
backward pass starts with fresh pages that the kernel must fault in and
zero. At detection sizes most activations and attention maps are that
large: on the 2-core machine of our benchmarks the page faults took 42% of
an Agent-Swin-T training step (800x1344) and 9% of a Swin-T one. CUDA's
caching allocator never returns memory between steps, which is why GPU
users do not see this; :func:`keep_freed_memory` gives the CPU the same
behaviour by asking glibc to serve large blocks from its heap and keep
what is freed (``mallopt``). The process then keeps the memory it used
between steps, as a CUDA process does (somewhat more than its peak where
PyTorch's 64-byte-aligned requests fragment the heap).

The tools call :func:`configure_cpu_malloc` at start-up;
``MMAGENT_CPU_MALLOC=system`` leaves the C library as it is.
"""
import ctypes
import ctypes.util
import os
import sys

ENV = 'MMAGENT_CPU_MALLOC'
MODES = ('cached', 'system')

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to 1 GiB come from the heap; a freed top is never trimmed.
_MMAP_THRESHOLD = 2**30
_TRIM_THRESHOLD = 2**31 - 1

_state = {'mode': 'system'}


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse instead of unmapping them.

    Returns True when the C library took the settings, False where it is
    not glibc (macOS, Windows, musl): nothing is changed there.
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)):
        return False
    _state['mode'] = 'cached'
    return True


def configure_cpu_malloc(mode: str = None) -> str:
    """Apply ``mode`` (default: ``$MMAGENT_CPU_MALLOC``, else ``'cached'``)
    and return the mode in force: ``'cached'`` keeps freed memory (see
    :func:`keep_freed_memory`), ``'system'`` leaves the C library alone."""
    mode = mode or os.environ.get(ENV) or 'cached'
    if mode not in MODES:
        raise ValueError(f'{ENV}={mode!r}: expected one of {MODES}')
    if mode == 'cached':
        keep_freed_memory()
    return current_mode()


def current_mode() -> str:
    """``'cached'`` once :func:`keep_freed_memory` succeeded in this
    process, else ``'system'``."""
    return _state['mode']
