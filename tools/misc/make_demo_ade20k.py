# Copyright (c) mmagent contributors. All rights reserved.
"""Generate the embedded segmentation demo dataset: deterministic scenes in
ADE20K's layout and label convention (0 = other, ignored once
``reduce_zero_label`` shifts it to 255): 7 textured region classes and 6
shape classes, with unlabelled clutter (see ``mmagent.demo_data.synthetic``).

    python tools/misc/make_demo_ade20k.py data/demo_ade20k --train 400 --val 64
"""
import argparse
import os.path as osp

from mmagent.demo_data import SCENE_CLASSES, write_scenes_ade20k


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo_ade20k')
    parser.add_argument('--train', type=int, default=400)
    parser.add_argument('--val', type=int, default=64)
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128],
                        metavar=('H', 'W'))
    parser.add_argument('--max-things', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = write_scenes_ade20k(args.out_dir, args.train, args.val,
                                 args.size, args.max_things, args.seed)
    for split, count in counts.items():
        print(f'{split}: {count} images, {len(SCENE_CLASSES)} classes -> '
              f'{osp.join(args.out_dir, "images", split)}')


if __name__ == '__main__':
    main()
