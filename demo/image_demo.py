# Copyright (c) mmagent contributors. All rights reserved.
"""Run a detector, segmentor or classifier on your own images.

    python demo/image_demo.py INPUTS CONFIG [--weights CKPT] [--out-dir DIR]

INPUTS: image files, folders or globs. CONFIG: a config path or a model name
from model-index.yml (e.g. ``mask-rcnn_agent-pvt-t_fpn_1x_coco``); its task
(``mmagent.tasks``) picks mmdet's DetInferencer, mmseg's MMSegInferencer or
mmpretrain's ImageClassificationInferencer. Writes ``DIR/vis/<image>.png``
(boxes, masks, class names and scores; a segmentation overlay in the dataset
palette; the top class) and ``DIR/preds/<image>.json``.
A model name without ``--weights`` uses its released weights, downloaded,
verified and converted once into ``$MMAGENT_HOME`` (``~/.cache/mmagent``);
a config path without ``--weights`` runs with random weights (a warning
says so). Official mmdet 2.x / mmseg 0.x checkpoints are converted on the
fly. A file
that cannot be read gets one error line; the others are still processed,
and the exit status is 1 when any failed.
"""
import argparse
import os.path as osp
import sys


def parse_args():
    parser = argparse.ArgumentParser(
        description='Agent-Attention inference on images',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='+',
                        help='image files, folders or globs')
    parser.add_argument('config',
                        help='config file or model name from model-index.yml')
    parser.add_argument('--weights', help='checkpoint (mmagent or official); '
                        "default: a model name's released weights")
    parser.add_argument('--out-dir', default='outputs',
                        help='where vis/ and preds/ are written')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1 ... (default: cuda if '
                        'available)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: lowest score drawn')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--palette', default=None,
                        help="detection: 'coco', 'voc', 'citys', 'random'; "
                        "segmentation: a dataset name such as 'ade20k'. "
                        "Default: the checkpoint's or the config's")
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='segmentation overlay opacity')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle --weights (it can run code): '
                        'only for files you trust')
    args = parser.parse_args()
    return args


def main():
    args = parse_args()
    from mmagent.apis import init_inferencer, save_predictions
    from mmagent.utils import CheckpointLoadError
    from mmagent.utils.image_io import collect_images

    try:
        files = collect_images(args.inputs)
        inferencer = init_inferencer(
            args.config, args.weights, device=args.device,
            palette=args.palette,
            cache_dir=osp.join(args.out_dir, 'converted'),
            trust_checkpoint=args.trust_checkpoint)
    except (FileNotFoundError, CheckpointLoadError, ValueError) as e:
        sys.exit(f'error: {e}')

    _, errors = save_predictions(inferencer, files, args.out_dir,
                                 args.batch_size, args.score_thr,
                                 args.opacity)
    for line in errors:
        print(f'error: {line}', file=sys.stderr)
    if errors:
        sys.exit(1)


if __name__ == '__main__':
    main()
