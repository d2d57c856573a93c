# Copyright (c) mmagent contributors. All rights reserved.
"""Draw the training samples of a config (after its pipeline) with their
annotations, to check data and augmentation. Detection and segmentation
use their library's visualizer (decided by the config's default_scope).

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir out \
        --not-show --max-images 20
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.utils import ProgressBar

import mmagent  # noqa: F401
from mmagent.utils.runtime import check_data_root, load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Browse a dataset')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--output-dir', default=None,
                        help='folder for the drawn images')
    parser.add_argument('--not-show', action='store_true')
    parser.add_argument('--show-interval', type=float, default=2)
    parser.add_argument('--max-images', type=int, default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def plain_gt_instances(sample):
    """The detection visualizer draws tensors and boolean arrays, not the
    box and mask structures the pipeline produces."""
    from mmdet.structures.bbox import BaseBoxes
    from mmdet.structures.mask import BitmapMasks, PolygonMasks
    instances = sample.gt_instances
    if isinstance(instances.get('bboxes'), BaseBoxes):
        instances.bboxes = instances.bboxes.tensor
    masks = instances.get('masks')
    if isinstance(masks, (BitmapMasks, PolygonMasks)):
        instances.masks = masks.to_ndarray().astype(bool)


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    scope = cfg.get('default_scope', 'mmdet')
    loader = f'{args.split}_dataloader'
    check_data_root(cfg, (loader, ))
    if scope == 'mmdet':
        from mmdet.registry import DATASETS, VISUALIZERS
    elif scope == 'mmseg':
        from mmseg.registry import DATASETS, VISUALIZERS
    else:
        raise SystemExit(f'browse_dataset supports mmdet and mmseg configs, '
                         f'not {scope!r}')
    dataset = DATASETS.build(cfg[loader].dataset)
    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.dataset_meta = dataset.metainfo
    total = len(dataset) if args.max_images is None else min(
        args.max_images, len(dataset))
    progress = ProgressBar(total)
    for index in range(total):
        item = dataset[index]
        image = item['inputs'].permute(1, 2, 0).numpy()
        sample = item['data_samples']
        image = image[..., [2, 1, 0]]  # BGR -> RGB for drawing
        if scope == 'mmdet':
            plain_gt_instances(sample)
        out_file = osp.join(args.output_dir, osp.basename(
            sample.img_path)) if args.output_dir else None
        visualizer.add_datasample(
            osp.basename(sample.img_path), image, data_sample=sample,
            draw_pred=False, show=not args.not_show,
            wait_time=args.show_interval, out_file=out_file)
        progress.update()


if __name__ == '__main__':
    main()
