# Copyright (c) mmagent contributors. All rights reserved.
"""Evaluate a checkpoint with the config's evaluator (COCO mAP, mIoU, ...).

The config's task (``mmagent.tasks``, from its ``default_scope``) decides
what ``--out``, ``--show-dir`` and ``--tta`` do, as in mmdet 3.x / mmseg 1.x
/ mmpretrain 1.x ``tools/test.py``.
"""
import argparse

import mmagent  # noqa: F401  (registers the backbones, torch>=2.6 loading)
from mmagent.engine import (add_common_arguments, build_runner,
                            load_tool_config, parse_tool_args,
                            pop_compile_options)
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import CheckpointLoadError, inspect_checkpoint
from mmagent.utils.distributed import finish_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_arguments(parser)
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
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation, if the config has it')
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    task = get_task(cfg)
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
    runner = build_runner(cfg, compile_options)
    runner.test()
    finish_distributed(runner)


if __name__ == '__main__':
    main()
