# Copyright (c) mmagent contributors. All rights reserved.
"""Peak memory of a call, on CPU and CUDA."""
from typing import Any, Callable, Tuple

import torch
from torch.profiler import ProfilerActivity, profile


def peak_memory(fn: Callable[[], Any],
                device: torch.device) -> Tuple[Any, int]:
    """Run ``fn`` and return ``(result, peak_bytes)``: the highest amount of
    memory allocated on ``device`` during the call above what was allocated
    before it.

    CUDA uses the caching allocator's statistics. CPU has no such counters,
    so every allocation and free is recorded by the PyTorch profiler and the
    running total is replayed in time order.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, torch.cuda.max_memory_allocated(device) - before
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    events = [
        e for e in prof.profiler.kineto_results.events()
        if e.name() == '[memory]' and str(e.device_type()).endswith('CPU')
    ]
    total = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        total += event.nbytes()
        peak = max(peak, total)
    return result, peak
