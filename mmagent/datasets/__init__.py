# Copyright (c) mmagent contributors. All rights reserved.
"""Dataset wrappers: bad samples, seeded samples (the synthetic demo data
generators are in ``mmagent.demo_data``)."""
from .bad_samples import (ON_BAD_SAMPLE, BadSampleError, BadSampleGuard,
                          guard_training_data, stop_at_bad_sample)
from .seeded import SeededDataset, SeededIndex, SeededSampler

__all__ = [
    'ON_BAD_SAMPLE', 'BadSampleError', 'BadSampleGuard',
    'guard_training_data', 'stop_at_bad_sample', 'SeededDataset',
    'SeededIndex', 'SeededSampler'
]
