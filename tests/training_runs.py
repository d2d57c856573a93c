"""Short training runs of the segmentation demo for the resume, crash,
multi-node and elastic tests: their config, and the comparison of two
checkpoints' training state."""
import os.path as osp
import textwrap

import torch
from conftest import REPO_ROOT

SEG_DEMO = osp.join(REPO_ROOT,
                    'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py')


def write_config(path, data_root, extra='', workers=2, keep=5, iters=8):
    """The segmentation demo for ``iters`` iterations of batch 2 on
    ``data_root``, narrowed (Agent-PVT widths 16-64, one block a stage, FPN
    and head at 32 channels: small checkpoints, quick steps), random
    augmentations and the head's dropout on, ``workers`` persistent loader
    workers, a checkpoint every 2 iterations (the newest ``keep`` kept),
    then ``extra``."""
    persistent = workers > 0
    path.write_text(textwrap.dedent(f"""
        _base_ = {SEG_DEMO!r}
        data_root = {data_root!r}
        train_dataloader = dict(
            batch_size=2, num_workers={workers},
            persistent_workers={persistent},
            dataset=dict(data_root=data_root))
        val_dataloader = dict(
            num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        model = dict(
            backbone=dict(arch=dict(
                _delete_=True,  # a preset name in the base
                embed_dims=[16, 32, 40, 64], depths=[1, 1, 1, 1],
                num_heads=[1, 2, 5, 8], mlp_ratios=[2, 2, 2, 2])),
            neck=dict(in_channels=[16, 32, 40, 64], out_channels=32),
            decode_head=dict(in_channels=[32, 32, 32, 32], channels=32))
        train_cfg = dict(max_iters={iters}, val_interval={iters},
                         val_begin={iters + 1})
        param_scheduler = [
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                 end=2),
            dict(type='PolyLR', eta_min=0.0, power=0.9, begin=2,
                 end={iters}, by_epoch=False)
        ]
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=2, max_keep_ckpts={keep}))
        randomness = dict(seed=0)
    """) + textwrap.dedent(extra))
    return str(path)


def load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def _equal(a, b, where, differences):
    if torch.is_tensor(a):
        if not (torch.is_tensor(b) and a.shape == b.shape and
                a.dtype == b.dtype and torch.equal(a, b)):
            differences.append(where)
    elif isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            differences.append(f'{where} (keys)')
            return
        for key in a:
            _equal(a[key], b[key], f'{where}.{key}', differences)
    elif isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            differences.append(f'{where} (length)')
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f'{where}[{i}]', differences)
    elif a != b:
        differences.append(where)


def training_state_differences(path_a, path_b):
    """Where two checkpoints' weights, optimizer state (every moment
    tensor, step count and hyper-parameter) or scheduler states differ,
    bit for bit; an empty list when they are the same."""
    a, b = load(path_a), load(path_b)
    assert a['state_dict'], 'a checkpoint without weights'
    assert a['optimizer']['state'], 'an optimizer without state'
    differences = []
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        _equal(a.get(key), b.get(key), key, differences)
    if a['meta']['iter'] != b['meta']['iter']:
        differences.append('meta.iter')
    return differences
