# Copyright (c) mmagent contributors. All rights reserved.
"""Generate the embedded classification demo dataset: deterministic
64x64 images in ImageNet's folder layout, 12 classes = 3 colour families x 4
outlines (see ``mmagent.demo_data.shapes_imagenet``).

    python tools/misc/make_demo_imagenet.py data/demo_imagenet \
        --train 300 --val 25
"""
import argparse
import os.path as osp

from mmagent.demo_data import SHAPE_IMAGENET_CLASSES, write_shapes_imagenet


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo_imagenet')
    parser.add_argument('--train', type=int, default=300,
                        help='training images per class')
    parser.add_argument('--val', type=int, default=25,
                        help='validation images per class')
    parser.add_argument('--size', type=int, nargs=2, default=[64, 64],
                        metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = write_shapes_imagenet(args.out_dir, args.train, args.val,
                                   args.size, args.seed)
    for split, count in counts.items():
        print(f'{split}: {count} images, {len(SHAPE_IMAGENET_CLASSES)} '
              f'classes -> {osp.join(args.out_dir, split)}')


if __name__ == '__main__':
    main()
