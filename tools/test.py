# Copyright (c) mmagent contributors. All rights reserved.
"""Evaluate a checkpoint with the config's evaluator (COCO mAP, mIoU, ...).

The config's ``default_scope`` picks the task: ``--out``, ``--show-dir`` and
``--tta`` behave as in mmdet 3.x / mmseg 1.x ``tools/test.py``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner

import mmagent  # noqa: F401  (registers the backbones, torch>=2.6 loading)
from mmagent.utils.runtime import (check_data_root, finish_distributed,
                                   load_config, prepare_distributed,
                                   resolve_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
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
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation, if the config has it')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_visualization(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit('--show/--show-dir need a visualization hook in '
                         'default_hooks')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    if cfg.get('default_scope') == 'mmpretrain':
        hook['enable'] = True
        hook.pop('draw')


def apply_tta(cfg, scope):
    if 'tta_model' not in cfg:
        if scope != 'mmdet':
            raise SystemExit('--tta: this config defines no tta_model')
        # mmdet's default: horizontal flip, merged by NMS.
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                         max_per_img=100))
    if 'tta_pipeline' not in cfg:
        if scope != 'mmdet':
            raise SystemExit('--tta: this config defines no tta_pipeline')
        test_pipeline = cfg.test_dataloader.dataset.pipeline
        load, *middle, pack = test_pipeline
        middle = [t for t in middle if t['type'] != 'Resize']
        resize = next(t for t in test_pipeline if t['type'] == 'Resize')
        cfg.tta_pipeline = [
            load,
            dict(type='TestTimeAug', transforms=[
                [resize],
                [dict(type='RandomFlip', prob=1.),
                 dict(type='RandomFlip', prob=0.)],
                middle + [dict(pack, meta_keys=(
                    'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'flip', 'flip_direction'))],
            ])
        ]
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    scope = cfg.get('default_scope', 'mmdet')
    resolve_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        apply_tta(cfg, scope)
    if args.out is not None and scope == 'mmseg':
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    prepare_distributed(cfg)
    check_data_root(cfg, ('test_dataloader', ))
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)

    if args.out is not None and scope != 'mmseg':
        if scope == 'mmdet':
            from mmdet.evaluation import DumpDetResults
            if not args.out.endswith(('.pkl', '.pickle')):
                raise SystemExit('--out must be a .pkl or .pickle file')
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        else:
            from mmengine.evaluator import DumpResults
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
