# Copyright (c) mmagent contributors. All rights reserved.
"""The embedded demo behind ``make demo``, on CPU, with the user-facing tools:

1. generate the synthetic ImageNet-layout shapes, ADE20K-format scenes and
   COCO-format shapes (``tools/misc/make_demo_{imagenet,ade20k,coco}.py``);
2. classification: train the Agent-PVT ImageNet classifier (a narrow
   demo arch, 1.5M parameters) from scratch on 12 classes, colour family x
   outline (``tools/train.py``),
   evaluate it (``tools/test.py``: top-1, top-5) and paint a few validation
   images with their top-5 (``demo/image_demo.py``); then BiViT: evaluate
   it with its attention binarized, fine-tune that binary model by
   distillation from the full-precision one, evaluate and paint again;
3. segmentation: train Semantic FPN Agent-PVT-T from scratch
   (``tools/train.py``), evaluate it (``tools/test.py``: mIoU, per-class
   IoU) and paint a few validation predictions (``demo/image_demo.py``);
4. detection: train Agent-PVT-T Mask R-CNN, its backbone initialised from the
   segmentation demo's (as the paper's detectors start from a pre-trained
   backbone), evaluate it (COCO bbox/segm mAP) and paint predictions;
5. compare the metrics with the demo's targets (top-1 >= 80 within 6
   training minutes, binary top-1 >= 75 within 4, mIoU >= 40 within 8, bbox
   mAP >= 0.3 within 10); with ``--strict`` the exit status is 1 when one
   is missed.

Everything lands in ``work_dirs/demo/``.

    python demo/run_demo.py [--work-dir work_dirs/demo]
                            [--tasks cls bivit seg det]
                            [--strict] [--seed 0]
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS_CONFIG = 'configs/cls/demo/agent-pvt-mini_demo-shapes.py'
BIVIT_CONFIG = 'configs/cls/demo/bivit-agent-pvt-mini_demo-shapes.py'
SEG_CONFIG = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'
DET_CONFIG = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'
CLS_DATA = 'data/demo_imagenet'
SEG_DATA = 'data/demo_ade20k'
DET_DATA = 'data/demo_coco'
TARGETS = {'accuracy/top1': 80.0, 'binary accuracy/top1': 75.0,
           'mIoU': 40.0, 'coco/bbox_mAP': 0.3}


def run(cmd, log_file=None):
    """Run a tool as a user would; its output is kept in ``log_file``."""
    print('$ ' + ' '.join(cmd), flush=True)
    start = time.time()
    with open(log_file or os.devnull, 'w') as log:
        result = subprocess.run(cmd, cwd=REPO_ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
    elapsed = time.time() - start
    if result.returncode != 0:
        tail = ''
        if log_file:
            with open(log_file) as f:
                tail = ''.join(f.readlines()[-25:])
        sys.exit(f'demo step failed (exit {result.returncode}):\n{tail}')
    print(f'  done in {elapsed / 60:.1f} min' +
          (f' (log: {log_file})' if log_file else ''), flush=True)
    return elapsed


def latest_metrics(work_dir):
    """The metrics mmengine's LoggerHook wrote for the last test run."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')),
                   key=osp.getmtime)
    if not files:
        sys.exit(f'no metrics file under {work_dir}')
    with open(files[-1]) as f:
        return json.loads(f.readline())


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def generate_once(generator, data):
    """Write a demo dataset unless it exists. It is written next to its
    place and moved there when complete, so an interrupted run leaves no
    half dataset that a later run would take for a whole one."""
    target = osp.join(REPO_ROOT, data)
    if osp.isdir(target):
        return
    partial = target + '.partial'
    shutil.rmtree(partial, ignore_errors=True)
    run([sys.executable, generator, partial])
    os.replace(partial, target)


def task(name, config, work_dir, val_images, metrics_keys, seed,
         options=()):
    """Train (every random draw from ``seed``: data order, augmentations,
    initial weights, drop path; see mmagent.engine.resume), test and paint
    one demo."""
    py = sys.executable
    os.makedirs(work_dir, exist_ok=True)
    train_time = run([py, 'tools/train.py', config, '--work-dir', work_dir,
                      '--cfg-options', f'randomness.seed={seed}', *options],
                     osp.join(work_dir, 'train.log'))
    ckpt = last_checkpoint(work_dir)
    run([py, 'tools/test.py', config, ckpt, '--work-dir', work_dir],
        osp.join(work_dir, 'test.log'))
    metrics = latest_metrics(work_dir)
    run([py, 'demo/image_demo.py', *val_images, config, '--weights', ckpt,
         '--out-dir', osp.join(work_dir, 'pictures')],
        osp.join(work_dir, 'image_demo.log'))
    shown = '  '.join(f'{k}: {metrics[k]}' for k in metrics_keys
                      if k in metrics)
    print(f'{name}: {shown}  (training {train_time / 60:.1f} min)\n',
          flush=True)
    return metrics, train_time


def bivit_stage(work_dir, seed):
    """The classification demo's model with its attention binarized
    (BiViT): top-1 of the full-precision model, of the binary model before
    fine-tuning, and after fine-tuning it by distillation."""
    cls_dir = osp.join(work_dir, 'cls')
    if not osp.isfile(osp.join(cls_dir, 'last_checkpoint')):
        sys.exit(f'the BiViT demo starts from the classification demo\'s '
                 f'model, but {cls_dir}/last_checkpoint does not exist: run '
                 f'with --tasks cls bivit')
    fp_ckpt = last_checkpoint(cls_dir)
    fp_metrics = latest_metrics(cls_dir)
    bivit_dir = osp.join(work_dir, 'bivit')
    before_dir = osp.join(bivit_dir, 'before')
    os.makedirs(before_dir, exist_ok=True)
    run([sys.executable, 'tools/test.py', BIVIT_CONFIG, fp_ckpt,
         '--work-dir', before_dir], osp.join(before_dir, 'test.log'))
    before = latest_metrics(before_dir)
    images = sorted(glob.glob(
        osp.join(REPO_ROOT, CLS_DATA, 'val/*/*_0000.JPEG')))[::3]
    metrics, seconds = task(
        'BiViT classification (attention binarized, distilled)',
        BIVIT_CONFIG, bivit_dir, images, ('accuracy/top1', 'accuracy/top5'),
        seed, options=[f'load_from={fp_ckpt}',
                       f'model.teacher_checkpoint={fp_ckpt}'])
    metrics = {'binary accuracy/top1': round(metrics['accuracy/top1'], 2),
               'fp accuracy/top1': round(fp_metrics['accuracy/top1'], 2),
               'binarized accuracy/top1': round(before['accuracy/top1'], 2)}
    return 'binary accuracy/top1', metrics, seconds, 4


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--tasks', nargs='+',
                        choices=['cls', 'bivit', 'seg', 'det'],
                        default=['cls', 'bivit', 'seg', 'det'],
                        help='bivit alone reuses the classifier of an '
                        'earlier cls run in the same work dir, det alone the '
                        'backbone of an earlier seg run')
    parser.add_argument('--strict', action='store_true',
                        help='exit with 1 when a target is missed')
    parser.add_argument('--seed', type=int, default=0,
                        help='the seed of every training run (default: '
                        '%(default)s): the same figures on every run')
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)

    for name, data, generator in (
            ('cls', CLS_DATA, 'tools/misc/make_demo_imagenet.py'),
            ('seg', SEG_DATA, 'tools/misc/make_demo_ade20k.py'),
            ('det', DET_DATA, 'tools/misc/make_demo_coco.py')):
        if name in args.tasks:
            generate_once(generator, data)

    results = []
    if 'cls' in args.tasks:
        images = sorted(glob.glob(
            osp.join(REPO_ROOT, CLS_DATA, 'val/*/*_0000.JPEG')))[::3]
        metrics, seconds = task('classification', CLS_CONFIG,
                                osp.join(args.work_dir, 'cls'), images,
                                ('accuracy/top1', 'accuracy/top5'),
                                args.seed)
        results.append(('accuracy/top1', metrics, seconds, 6))

    if 'bivit' in args.tasks:
        results.append(bivit_stage(args.work_dir, args.seed))

    seg_dir = osp.join(args.work_dir, 'seg')
    if 'seg' in args.tasks:
        images = sorted(glob.glob(
            osp.join(REPO_ROOT, SEG_DATA, 'images/validation/*')))[:4]
        metrics, seconds = task('segmentation', SEG_CONFIG, seg_dir, images,
                                ('mIoU', 'mAcc', 'aAcc'), args.seed)
        results.append(('mIoU', metrics, seconds, 8))

    if 'det' in args.tasks:
        seg_ckpt = osp.join(seg_dir, 'last_checkpoint')
        if not osp.isfile(seg_ckpt):
            sys.exit(f'the detection demo starts from the segmentation '
                     f"demo's backbone, but {seg_ckpt} does not exist: run "
                     f'with --tasks seg det')
        images = sorted(glob.glob(osp.join(REPO_ROOT, DET_DATA,
                                           'val/*')))[:4]
        metrics, seconds = task(
            'detection', DET_CONFIG, osp.join(args.work_dir, 'det'), images,
            ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'),
            args.seed, options=[f'model.backbone.init_cfg.checkpoint='
                                f'{last_checkpoint(seg_dir)}'])
        results.append(('coco/bbox_mAP', metrics, seconds, 10))

    print('demo summary: metric, target, reached, training minutes')
    failed = False
    for key, metrics, seconds, limit in results:
        ok = metrics.get(key, -1) >= TARGETS[key] and seconds <= limit * 60
        failed |= not ok
        print(f'  {key:20s} >= {TARGETS[key]:<5}  {metrics.get(key)}  '
              f'{seconds / 60:.1f} min (budget {limit})  '
              f'{"ok" if ok else "MISSED"}')
        if 'fp accuracy/top1' in metrics:
            print(f'  {"":20s}    (full precision '
                  f'{metrics["fp accuracy/top1"]}, binarized before '
                  f'fine-tuning {metrics["binarized accuracy/top1"]})')
    print(f'pictures: {args.work_dir}/{{cls,bivit,seg,det}}/pictures/vis')
    sys.exit(1 if failed and args.strict else 0)


if __name__ == '__main__':
    main()
