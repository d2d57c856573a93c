# Copyright (c) mmagent contributors. All rights reserved.
"""Train a detector, segmentor or classifier from an mmagent config.

The config's ``default_scope`` (mmdet / mmseg / mmpretrain) picks the task.
Mirrors mmdet 3.x ``tools/train.py``.
"""
import argparse

import mmagent  # noqa: F401  (registers the backbones, torch>=2.6 loading)
from mmagent.datasets import (ON_BAD_SAMPLE, BadSampleError,
                              guard_training_data, stop_at_bad_sample)
from mmagent.engine import (add_common_arguments, build_runner,
                            check_checkpoints, configure_amp,
                            load_tool_config, make_resumable,
                            parse_tool_args, pop_compile_options)
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import CheckpointLoadError
from mmagent.utils.distributed import finish_distributed, restart_count


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    add_common_arguments(parser)
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 with loss scaling on GPU, bf16 on CPU')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the newest complete '
        'one in the work dir when no path is given')
    parser.add_argument(
        '--on-bad-sample', choices=ON_BAD_SAMPLE, default='skip',
        help='a training image or annotation that cannot be read or is '
        'invalid: skip it (logged, with a count) or stop after saving a '
        'checkpoint')
    parser.add_argument(
        '--full-data-scan', action='store_true',
        help='before training, check that every record\'s image and label '
        'file exists (default: 200 records per dataset)')
    args = parse_tool_args(parser)
    if restart_count() > 0:
        # torchrun restarted the group (dist_train.sh --max-restarts):
        # continue from the newest complete checkpoint
        args.resume = 'auto'
    return args


def main():
    args = parse_args()
    cfg = load_tool_config(args)

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
    runner = build_runner(cfg, compile_options)
    try:
        runner.train()
    except BadSampleError as e:
        raise SystemExit(stop_at_bad_sample(runner, e))
    finish_distributed(runner)


if __name__ == '__main__':
    main()
