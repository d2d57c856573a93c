# Copyright (c) mmagent contributors. All rights reserved.
"""Seeds derived from a run's seed and a place in the run, so that what a
step draws depends on where it is, not on what ran before it."""
import random

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """A 32-bit seed from non-negative integer ``keys`` (the run's seed,
    then e.g. epoch and position), well mixed by NumPy's ``SeedSequence``:
    neighbouring keys give unrelated streams."""
    return int(np.random.SeedSequence([int(k) for k in keys])
               .generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch's CPU
    and CUDA generators (every device; CUDA lazily, if it is ever used)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
