# Copyright (c) mmagent contributors. All rights reserved.
"""FLOPs (multiply-accumulates, as fvcore, mmcv and the papers count) of a
module on given inputs.

mmengine's counter traces the model but has no rule for
``scaled_dot_product_attention`` (the fast attention path), so its two
matrix products are added here: ``B*h*L*S*(E + Ev)`` per call. Elementwise
ops (softmax, GELU, the bias resizes) are not counted, as in the papers.
"""
from math import prod

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape


def sdpa_flop_jit(inputs, outputs) -> int:
    """MACs of softmax(q @ k^T) @ v: (L x E)(E x S) and (L x S)(S x Ev)."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = prod(q[:-2])
    length, dims = q[-2:]
    return batch * length * k[-2] * (dims + v[-1])


def count_flops(module: torch.nn.Module, inputs: tuple,
                count_sdpa: bool = True) -> int:
    """Multiply-accumulates of ``module(*inputs)`` without gradients;
    ``count_sdpa=False`` shows what mmengine alone would count."""
    analyzer = FlopAnalyzer(module, inputs)
    if count_sdpa:
        analyzer.set_op_handle('aten::scaled_dot_product_attention',
                               sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        return analyzer.total()
