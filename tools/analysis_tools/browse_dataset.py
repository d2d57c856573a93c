# Copyright (c) mmagent contributors. All rights reserved.
"""Draw the training samples of a config (after its pipeline) with their
annotations, to check data and augmentation, with the visualizer of the
config's task library (mmdet, mmseg or mmpretrain).

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir out \
        --not-show --max-images 20
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.utils import ProgressBar

import mmagent  # noqa: F401
from mmagent.tasks import get_task
from mmagent.utils.config import load_config


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


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    task = get_task(cfg)
    loader = f'{args.split}_dataloader'
    task.check_data(cfg, (loader, ))
    DATASETS, VISUALIZERS = task.registries()
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
        out_file = osp.join(args.output_dir, osp.basename(
            sample.img_path)) if args.output_dir else None
        task.draw_sample(visualizer, osp.basename(sample.img_path), image,
                         sample, show=not args.not_show,
                         wait_time=args.show_interval, out_file=out_file)
        progress.update()


if __name__ == '__main__':
    main()
