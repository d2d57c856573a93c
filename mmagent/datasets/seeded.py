# Copyright (c) mmagent contributors. All rights reserved.
"""Training data that comes out the same after a resume.

mmengine seeds each data-loading worker once, when it starts, so a
sample's random augmentation depends on how many samples that worker has
prepared before: on the number of workers, on whether they persist across
epochs, and on where a resumed run started them. Here every sample's
augmentation is seeded by its place in the run instead, ``(run seed,
epoch, position in the epoch's order over all ranks)``: the sampler hands
the seed along with the index (:class:`SeededIndex`) and the dataset wrapper
seeds Python's, NumPy's and torch's generators with it before the
pipeline runs, in whichever process loads the sample.
"""
from typing import Iterator, Optional, Sized

from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import Sampler

from ..utils.seeding import derive_seed, seed_everything
from .wrapper import DatasetWrapper


class SeededIndex(int):
    """A dataset index that carries the seed of its sample's augmentation.

    It is an ``int`` for everything that indexes with it (batch samplers,
    ``get_data_info``); it travels to the loading workers with its seed.
    """

    def __new__(cls, index: int, seed: int):
        value = super().__new__(cls, index)
        value.seed = seed
        return value

    def __reduce__(self):
        return SeededIndex, (int(self), self.seed)


@DATA_SAMPLERS.register_module()
class SeededSampler(Sampler):
    """Wraps a sampler (``DefaultSampler``, ``InfiniteSampler``, ...): the same
    indices in the same order, each a :class:`SeededIndex` whose seed is
    ``derive_seed(seed, epoch, p * world_size + rank)`` for the ``p``-th
    index this rank draws in the epoch (its place in the epoch's order over
    all ranks). ``tools/train.py`` wraps the training sampler in it.

    Args:
        dataset (Sized): The dataset (mmengine passes it).
        sampler (dict): The sampler to wrap (built with ``dataset`` and
            ``seed``).
        seed (int, optional): The run's seed; ``None``: one drawn on rank 0
            and shared, as mmengine's samplers do.
    """

    def __init__(self, dataset: Sized, sampler: dict,
                 seed: Optional[int] = None):
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.sampler = DATA_SAMPLERS.build(
            sampler, default_args=dict(dataset=dataset, seed=self.seed))
        self.dataset = dataset  # batch samplers read sizes through it
        rank, world_size = get_dist_info()
        self.rank = getattr(self.sampler, 'rank', rank)
        self.world_size = getattr(self.sampler, 'world_size', world_size)
        self.epoch = 0

    def __iter__(self) -> Iterator[SeededIndex]:
        epoch = self.epoch
        for position, index in enumerate(self.sampler):
            yield SeededIndex(
                index,
                derive_seed(self.seed, epoch,
                            position * self.world_size + self.rank))

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)


@DATASETS.register_module()
class SeededDataset(DatasetWrapper):
    """Wraps a dataset: before loading a :class:`SeededIndex`, seeds Python's
    ``random``, NumPy's global generator and torch's with its seed, so the
    sample's random transforms depend on nothing but that seed. Plain
    indices load as they would unwrapped.

    Args:
        dataset (dict | Dataset): The dataset (config) to wrap.
    """

    def __getitem__(self, index):
        seed = getattr(index, 'seed', None)
        if seed is not None:
            seed_everything(seed)
            index = int(index)
        return self.dataset[index]
