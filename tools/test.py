# Copyright (c) mmagent contributors. All rights reserved.
"""Evaluate a checkpoint with the config's evaluator (COCO mAP, mIoU, ...).

The config's task (``mmagent.tasks``, from its ``default_scope``) decides
what ``--out``, ``--show-dir`` and ``--tta`` do, as in mmdet 3.x / mmseg 1.x
/ mmpretrain 1.x ``tools/test.py``.
"""
import argparse
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

import mmagent  # noqa: F401  (registers the backbones, torch>=2.6 loading)
from mmagent.engine import compile_backbone, pop_compile_options
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import (CheckpointLoadError,
                                      TrustCheckpointAction,
                                      inspect_checkpoint)
from mmagent.utils.config import load_config, resolve_work_dir
from mmagent.utils.cpu_malloc import configure_cpu_malloc
from mmagent.utils.distributed import finish_distributed, prepare_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    parser.add_argument('--work-dir', help='the dir to save the metrics')
    parser.add_argument(
        '--out', help='detection: dump predictions to a pickle file; '
        'segmentation: a folder for the predicted label maps')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results')
    parser.add_argument('--show-dir',
                        help='folder (inside the work dir) for painted '
                        'predictions')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile the backbone (static shapes, the config\'s '
        'compile options on top): the first batch at each new input size '
        'compiles')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation, if the config has it')
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
    return args


def main():
    args = parse_args()
    try:  # large CPU tensors reuse freed memory (mmagent.utils.cpu_malloc)
        configure_cpu_malloc()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    task = get_task(cfg)
    resolve_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint
    if '://' not in args.checkpoint:
        try:
            cfg.load_from = inspect_checkpoint(args.checkpoint)
        except CheckpointLoadError as e:
            raise SystemExit(f'error: {e}')
    if args.show or args.show_dir:
        task.enable_visualization(cfg, args.show, args.show_dir,
                                  args.wait_time)
    if args.tta:
        task.apply_tta(cfg)
    if args.out is not None:
        task.add_prediction_dump(cfg, args.out)

    compile_options = pop_compile_options(cfg, args.compile)
    task.check_data(cfg, ('test_dataloader', ))
    task.check_model(cfg, pretrained=False)  # weights: the checkpoint
    if args.preflight:
        return
    prepare_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    if compile_options is not None:
        compile_backbone(runner.model, compile_options, runner.logger)
    runner.test()
    finish_distributed(runner)


if __name__ == '__main__':
    main()
