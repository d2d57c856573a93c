# Copyright (c) mmagent contributors. All rights reserved.
"""FLOPs and parameters of a detector / segmentor / classifier config on a
synthetic input of ``--shape`` (no dataset needed).

Counts multiply-accumulates, as fvcore, mmcv and the paper do. mmengine's
counter traces the model but has no rule for
``scaled_dot_product_attention`` (the fast attention path), so its two
matrix products are added here: ``B*h*L*S*(E + Ev)`` per call. Elementwise
ops (softmax, GELU, the bias resizes) are not counted, as in the paper.

    python tools/analysis_tools/get_flops.py \
        configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py --shape 1280 800
"""
import argparse
from math import prod

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import DictAction
from mmengine.registry import MODELS

import mmagent  # noqa: F401
from mmagent.utils.runtime import load_config, synthetic_data_sample


def sdpa_flop_jit(inputs, outputs):
    """MACs of softmax(q @ k^T) @ v: (L x E)(E x S) and (L x S)(S x Ev)."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = prod(q[:-2])
    length, dims = q[-2:]
    return batch * length * k[-2] * (dims + v[-1])


def parse_args():
    parser = argparse.ArgumentParser(description='Count FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[1280, 800],
                        help='input size H W (or one side)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='count the backbone alone')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args()


class TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-input module
    for the tracer."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def count(config, shape, backbone_only=False, cfg_options=None,
          count_sdpa=True):
    """Returns ``(flops, params, (H, W))`` of the config's model at
    ``shape``; ``count_sdpa=False`` shows what mmengine alone would count."""
    cfg = load_config(config, cfg_options, init_scope=True)
    scope = cfg.get('default_scope', 'mmdet')
    height, width = (shape * 2)[:2] if len(shape) == 1 else shape[:2]
    model = MODELS.build(cfg.model).eval()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None  # training only, as mmseg's tool
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    data = model.data_preprocessor(
        dict(inputs=[image],
             data_samples=[synthetic_data_sample(scope, height, width)]),
        False)
    if backbone_only:
        target, inputs = model.backbone, data['inputs']
    else:
        target = TensorForward(model, data['data_samples'])
        inputs = data['inputs']
    analyzer = FlopAnalyzer(target, (inputs, ))
    if count_sdpa:
        analyzer.set_op_handle('aten::scaled_dot_product_attention',
                               sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        flops = analyzer.total()
    params = parameter_count(model.backbone if backbone_only else model)['']
    return flops, params, (height, width)


def main():
    args = parse_args()
    flops, params, (height, width) = count(args.config, args.shape,
                                           args.backbone_only,
                                           args.cfg_options)
    what = 'backbone' if args.backbone_only else 'model'
    print(f'{args.config} ({what})\ninput shape: (3, {height}, {width})\n'
          f'FLOPs (multiply-accumulates): {flops / 1e9:.1f} G\n'
          f'params: {params / 1e6:.2f} M')


if __name__ == '__main__':
    main()
