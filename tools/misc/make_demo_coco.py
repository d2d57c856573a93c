# Copyright (c) mmagent contributors. All rights reserved.
"""Generate the embedded detection demo dataset: a deterministic,
COCO-format instance segmentation set of shapes (circle, square, triangle,
cross) with varied size, colour and texture, on textured backgrounds with
clutter, overlapping each other (see ``mmagent.demo_data.synthetic``).

    python tools/misc/make_demo_coco.py data/demo_coco --train 320 --val 160
"""
import argparse
import os.path as osp

from mmagent.demo_data import write_shapes_coco


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo_coco')
    parser.add_argument('--train', type=int, default=320)
    parser.add_argument('--val', type=int, default=160)
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128],
                        metavar=('H', 'W'))
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = write_shapes_coco(args.out_dir, args.train, args.val,
                               args.size, args.max_objects, args.seed)
    for split, (n_img, n_ann) in counts.items():
        print(f'{split}: {n_img} images, {n_ann} instances -> '
              f'{osp.join(args.out_dir, split)}')


if __name__ == '__main__':
    main()
