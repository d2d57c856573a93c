# Copyright (c) mmagent contributors. All rights reserved.
"""A resume that loses nothing.

mmengine's checkpoint holds the model, the optimizer (and its loss scaler),
the parameter schedulers, the counters and the run's seed; an
iteration-based loop replays the data loader up to the resumed iteration.
What it lacks is where the random generators stood: the resumed run's
dropout, drop path and augmentations draw other numbers than the
uninterrupted run's from the first step on, and every weight drifts.

Rather than storing generator states (which also move whenever a
validation loop or a data-loader restart draws from them, between the save
and the next step), every random draw of training is made a function of
its place in the run:

- each training iteration seeds Python's, NumPy's and torch's (CPU and
  CUDA) generators with ``derive_seed(seed, iteration)``
  (:class:`ReseedEachIterationHook`; with ``randomness.diff_rank_seed``
  the seed is the rank's own, as mmengine makes it);
- each sample's augmentation is seeded with ``derive_seed(seed, epoch,
  position)`` in whichever loading process prepares it
  (:class:`~mmagent.datasets.SeededSampler`,
  :class:`~mmagent.datasets.SeededDataset`), so neither the number of
  loader workers nor their restarts matter.

So the checkpoint's seed and counters are the whole random state: a run
killed at any moment and resumed from its newest checkpoint ends with the
uninterrupted run's weights and optimizer state, bit for bit on the CPU,
with the same world size. ``tools/train.py`` sets this up
(:func:`make_resumable`).
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..utils.checkpoint import checkpoint_meta
from ..utils.seeding import derive_seed, seed_everything


@HOOKS.register_module()
class ReseedEachIterationHook(Hook):
    """Before each training iteration, seed every generator with
    ``derive_seed(runner.seed, runner.iter)``: the iteration's dropout, drop
    path and batch augmentations depend on its index alone."""

    priority = 'HIGHEST'  # before any other hook draws

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        seed_everything(derive_seed(runner.seed, runner.iter))


def make_resumable(cfg) -> None:
    """Give a training config the seeding of this module: the training
    sampler wrapped in ``SeededSampler``, its dataset in ``SeededDataset``
    and :class:`ReseedEachIterationHook` added. A config that already has
    them is left as it is."""
    loader = cfg.get('train_dataloader')
    if not loader:
        return
    randomness = cfg.get('randomness', {})
    seed = randomness.get('seed')
    if seed is None and randomness.get('diff_rank_seed'):
        print('randomness.diff_rank_seed without randomness.seed: the data '
              'order draws a seed of its own that no checkpoint records, '
              'so a resumed run sees other batches; set randomness.seed to '
              'resume exactly')
    sampler = loader.get('sampler')
    if isinstance(sampler, dict) and sampler.get('type') != 'SeededSampler':
        wrapped = dict(type='SeededSampler', sampler=sampler)
        if seed is not None:  # else the runner's seed (drawn, shared)
            wrapped['seed'] = seed
        loader['sampler'] = wrapped
    dataset = loader.get('dataset')
    if isinstance(dataset, dict) and dataset.get('type') != 'SeededDataset':
        loader['dataset'] = dict(type='SeededDataset', dataset=dataset)
    hooks = cfg.get('custom_hooks') or []
    if not any(h.get('type') in ('ReseedEachIterationHook',
                                 ReseedEachIterationHook) for h in hooks):
        cfg.custom_hooks = list(hooks) + [
            dict(type='ReseedEachIterationHook')]


def take_seed_of_checkpoint(cfg, checkpoint: str) -> None:
    """A resumed run draws from the seed its checkpoint was trained with
    (mmengine switches to it only after the data loaders are built, too
    late for their samplers); says so when the config's differs."""
    seed = checkpoint_meta(checkpoint).get('seed')
    if seed is None:
        return
    randomness = cfg.setdefault('randomness', {})
    current = randomness.get('seed')
    if current is not None and current != seed:
        print(f'resuming with the seed of {checkpoint} ({seed}), not the '
              f"config's ({current})")
    randomness['seed'] = seed
