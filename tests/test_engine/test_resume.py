"""A resume that loses nothing: every random draw of training depends on
the run's seed and its place in the run (mmagent.engine.resume), so a run
killed with SIGKILL and resumed ends with the uninterrupted run's weights
and optimizer state, bit for bit on the CPU: epoch- and iteration-based
loops, 2 persistent loader workers with random augmentations. (The
crash-safety test in test_crash_safe_training.py kills a run while it
writes a checkpoint, test_tools/test_distributed_launchers.py a 2-process
DDP run, with the same comparison.)"""
import os.path as osp
import pickle
import random
import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, run
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader, Dataset
from training_runs import training_state_differences, write_config

from mmagent.datasets import SeededDataset, SeededIndex, SeededSampler
from mmagent.engine import ReseedEachIterationHook, make_resumable


class RandomDraws(Dataset):
    """Each sample is what a random transform would draw."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        return torch.tensor([index, random.random(), np.random.rand(),
                             torch.rand(()).item()], dtype=torch.float64)


def epochs_of_samples(dataset, workers, epochs=3, seed=5):
    sampler = SeededSampler(dataset, dict(type='DefaultSampler',
                                          shuffle=True), seed=seed)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler,
                        num_workers=workers,
                        persistent_workers=workers > 0)
    out = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        out.append(torch.cat(list(loader)))
    return torch.stack(out)


def test_seeded_samples_do_not_depend_on_the_loader_workers():
    seeded = SeededDataset(RandomDraws())
    inline = epochs_of_samples(seeded, workers=0)
    assert torch.equal(epochs_of_samples(seeded, workers=2), inline)
    # the same order as the wrapped sampler, other draws every epoch
    plain = DefaultSampler(RandomDraws(), shuffle=True, seed=5)
    for epoch in range(3):
        plain.set_epoch(epoch)
        assert inline[epoch, :, 0].tolist() == list(plain)
    assert not torch.equal(inline[0, :, 1:], inline[1, :, 1:])
    # unseeded, the draws depend on the workers (the test can fail)
    unseeded = RandomDraws()
    assert not torch.equal(epochs_of_samples(unseeded, workers=2),
                           epochs_of_samples(unseeded, workers=0))


def test_a_sample_seed_is_its_place_over_all_ranks(monkeypatch):
    import mmengine.dataset.sampler as samplers
    dataset = RandomDraws()
    seeds = {}
    for rank in (0, 1):
        monkeypatch.setattr(samplers, 'get_dist_info', lambda: (rank, 2))
        sampler = SeededSampler(dataset, dict(type='DefaultSampler',
                                              shuffle=False), seed=3)
        assert (sampler.rank, sampler.world_size) == (rank, 2)
        for index in sampler:
            seeds[int(index)] = index.seed
    # indices 0..5 are positions 0..5 of the epoch's order over both ranks
    monkeypatch.undo()
    single = SeededSampler(dataset, dict(type='DefaultSampler',
                                         shuffle=False), seed=3)
    assert seeds == {int(i): i.seed for i in single}
    assert len(set(seeds.values())) == 6


def test_seeded_index_is_an_int_that_keeps_its_seed_through_pickling():
    index = SeededIndex(4, seed=123)
    assert index == 4 and [10, 11, 12, 13, 14][index] == 14
    again = pickle.loads(pickle.dumps(index))
    assert type(again) is SeededIndex and again == 4 and again.seed == 123


def test_each_iteration_draws_the_same_whatever_ran_before():
    class Runner:
        seed, iter = 7, 3

    hook = ReseedEachIterationHook()
    hook.before_train_iter(Runner(), 0)
    first = torch.rand(3), np.random.rand(), random.random()
    torch.rand(100), np.random.rand(5), random.random()  # a longer history
    hook.before_train_iter(Runner(), 0)
    assert torch.equal(torch.rand(3), first[0])
    assert (np.random.rand(), random.random()) == first[1:]
    Runner.iter = 4
    hook.before_train_iter(Runner(), 0)
    assert not torch.equal(torch.rand(3), first[0])


def test_make_resumable_wraps_the_training_data_once():
    from mmengine.config import Config
    cfg = Config(dict(
        randomness=dict(seed=11),
        train_dataloader=dict(
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dict(type='BaseSegDataset'))))
    make_resumable(cfg)
    make_resumable(cfg)
    loader = cfg.train_dataloader
    assert loader.sampler == dict(
        type='SeededSampler', seed=11,
        sampler=dict(type='InfiniteSampler', shuffle=True))
    assert loader.dataset == dict(type='SeededDataset',
                                  dataset=dict(type='BaseSegDataset'))
    assert [h['type'] for h in cfg.custom_hooks] == [
        'ReseedEachIterationHook']


KILL = """
    custom_imports = dict(imports=['mmagent', 'crash_hooks'],
                          allow_failed_imports=False)
    custom_hooks = [dict(type='KillRank', rank={rank}, iteration={iteration})]
"""
EPOCHS = """
    train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=True)
    train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=4,
                     val_interval=10)
    default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))
"""


@pytest.mark.slow
def test_epoch_based_kill_9_then_resume_equals_uninterrupted(tiny_ade,
                                                             tmp_path):
    """4 epochs of 2 iterations, persistent workers (whose generators an
    unseeded resume would restart): killed in epoch 3, resumed from
    epoch_2.pth."""
    plain = write_config(tmp_path / 'plain.py', tiny_ade, EPOCHS)
    run([sys.executable, 'tools/train.py', plain, '--work-dir',
         str(tmp_path / 'plain')])
    crashing = write_config(tmp_path / 'crash.py', tiny_ade,
                            EPOCHS + KILL.format(rank=0, iteration=5))
    work_dir = str(tmp_path / 'work')
    env = {'PYTHONPATH': osp.join(REPO_ROOT, 'tests')}
    result = run([sys.executable, 'tools/train.py', crashing, '--work-dir',
                  work_dir], check=False, env=env)
    assert result.returncode == -9
    assert not osp.exists(osp.join(work_dir, 'epoch_3.pth'))
    result = run([sys.executable, 'tools/train.py', plain, '--work-dir',
                  work_dir, '--resume'])
    out = result.stdout + result.stderr
    assert 'Iter(train) [6/8]' in out and 'Iter(train) [4/8]' not in out
    assert training_state_differences(
        osp.join(tmp_path, 'plain', 'epoch_4.pth'),
        osp.join(work_dir, 'epoch_4.pth')) == []


def test_auto_resume_without_a_checkpoint_keeps_load_from(tmp_path):
    """An elastic restart before the first save (``--resume`` auto, nothing
    in the work dir) still starts from the config's ``load_from`` (a
    fine-tune's weights), not from scratch."""
    from mmengine.config import Config

    from mmagent.engine import check_checkpoints
    start = tmp_path / 'start.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}}, start)
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    cfg = Config(dict(work_dir=str(work_dir), load_from=str(start)))
    check_checkpoints(cfg, 'auto')
    assert cfg.resume is False and cfg.load_from == str(start)
