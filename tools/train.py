# Copyright (c) mmagent contributors. All rights reserved.
"""Train a detector, segmentor or classifier from an mmagent config.

The config's ``default_scope`` (mmdet / mmseg / mmpretrain) picks the task.
Mirrors mmdet 3.x ``tools/train.py``.
"""
import argparse
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

import mmagent  # noqa: F401  (registers the backbones, torch>=2.6 loading)
from mmagent.datasets import (ON_BAD_SAMPLE, BadSampleError,
                              guard_training_data, stop_at_bad_sample)
from mmagent.engine import (check_checkpoints, compile_backbone,
                            configure_amp, make_resumable,
                            pop_compile_options)
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import (CheckpointLoadError,
                                      TrustCheckpointAction)
from mmagent.utils.config import load_config, resolve_work_dir
from mmagent.utils.cpu_malloc import configure_cpu_malloc
from mmagent.utils.distributed import (finish_distributed,
                                       prepare_distributed, restart_count)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 with loss scaling on GPU, bf16 on CPU')
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile the backbone (static shapes, the config\'s '
        'compile options on top): the first iteration at each new input '
        'size compiles')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the newest complete '
        'one in the work dir when no path is given')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    parser.add_argument(
        '--on-bad-sample', choices=ON_BAD_SAMPLE, default='skip',
        help='a training image or annotation that cannot be read or is '
        'invalid: skip it (logged, with a count) or stop after saving a '
        'checkpoint')
    parser.add_argument(
        '--full-data-scan', action='store_true',
        help='before training, check that every record\'s image and label '
        'file exists (default: 200 records per dataset)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--preflight', action='store_true',
        help='only check the config, checkpoint, data and model arguments, '
        'then exit (dist_train.sh / dist_test.sh run this once before '
        'starting the workers)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if restart_count() > 0:
        # torchrun restarted the group (dist_train.sh --max-restarts):
        # continue from the newest complete checkpoint
        args.resume = 'auto'
    return args


def main():
    args = parse_args()
    try:  # large CPU tensors reuse freed memory (mmagent.utils.cpu_malloc)
        configure_cpu_malloc()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    resolve_work_dir(cfg, args.work_dir, args.config)

    configure_amp(cfg, args.amp)
    compile_options = pop_compile_options(cfg, args.compile)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.'
                             'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    try:
        check_checkpoints(cfg, args.resume)
    except CheckpointLoadError as e:
        raise SystemExit(f'error: {e}')

    task = get_task(cfg)
    task.check_data(cfg, ('train_dataloader', 'val_dataloader'),
                    scan_limit=None if args.full_data_scan else 200)
    task.check_model(cfg)
    guard_training_data(cfg, args.on_bad_sample)
    make_resumable(cfg)  # every random draw from the seed and its place
    if args.preflight:
        return
    prepare_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else None
    if runner is None:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    if compile_options is not None:
        compile_backbone(runner.model, compile_options, runner.logger)
    try:
        runner.train()
    except BadSampleError as e:
        raise SystemExit(stop_at_bad_sample(runner, e))
    finish_distributed(runner)


if __name__ == '__main__':
    main()
