# Copyright (c) mmagent contributors. All rights reserved.
"""FLOPs and parameters of a detector / segmentor / classifier config on a
synthetic input of ``--shape`` (no dataset needed).

Counts multiply-accumulates, as fvcore, mmcv and the paper do, with the
rule for ``scaled_dot_product_attention`` that mmengine lacks (see
``mmagent.utils.flops``).

    python tools/analysis_tools/get_flops.py \
        configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py --shape 1280 800
    python tools/analysis_tools/get_flops.py \
        configs/cls/agent-swin-b-384_in1k.py  # at its 384 test size
"""
import argparse

from mmengine.config import DictAction

import mmagent  # noqa: F401
from mmagent.apis import model_complexity


def parse_args():
    parser = argparse.ArgumentParser(description='Count FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input size H W (or one side); default 1280 800 '
                        'for detection/segmentation, the test size for '
                        'classification')
    parser.add_argument('--backbone-only', action='store_true',
                        help='count the backbone alone')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args()


def main():
    args = parse_args()
    flops, params, (height, width) = model_complexity(
        args.config, args.shape, args.backbone_only, args.cfg_options)
    what = 'backbone' if args.backbone_only else 'model'
    print(f'{args.config} ({what})\ninput shape: (3, {height}, {width})\n'
          f'FLOPs (multiply-accumulates): {flops / 1e9:.1f} G\n'
          f'params: {params / 1e6:.2f} M')


if __name__ == '__main__':
    main()
