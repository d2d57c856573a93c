# Copyright (c) mmagent contributors. All rights reserved.
"""Dataset wrappers (the synthetic demo data generators are in
``mmagent.demo_data``)."""
from .bad_samples import (ON_BAD_SAMPLE, BadSampleError, BadSampleGuard,
                          guard_training_data, stop_at_bad_sample)

__all__ = [
    'ON_BAD_SAMPLE', 'BadSampleError', 'BadSampleGuard',
    'guard_training_data', 'stop_at_bad_sample'
]
