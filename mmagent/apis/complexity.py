# Copyright (c) mmagent contributors. All rights reserved.
"""FLOPs and parameters of a config's model on a synthetic input."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import parameter_count

from ..tasks import get_task
from ..utils.config import load_config
from ..utils.flops import count_flops


class TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a one-input module
    for the tracer."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def model_complexity(config: str,
                     shape: Optional[Sequence[int]] = None,
                     backbone_only: bool = False,
                     cfg_options: Optional[dict] = None,
                     count_sdpa: bool = True) -> Tuple[int, int, tuple]:
    """``(flops, params, (H, W))`` of the config's model at ``shape`` (one
    side or ``H W``; default: the task's, e.g. a classifier's test size),
    in eval mode, without a dataset; ``count_sdpa=False`` shows what
    mmengine alone would count."""
    from mmengine.registry import MODELS
    cfg = load_config(config, cfg_options, init_scope=True)
    if not shape:
        shape = get_task(cfg).complexity_shape(cfg)
    height, width = (list(shape) * 2)[:2] if len(shape) == 1 else shape[:2]
    model = MODELS.build(cfg.model).eval()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None  # training only, as mmseg's tool
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    sample = get_task(cfg).data_sample(height, width)
    data = model.data_preprocessor(
        dict(inputs=[image], data_samples=[sample]), False)
    if backbone_only:
        target = model.backbone
    else:
        target = TensorForward(model, data['data_samples'])
    flops = count_flops(target, (data['inputs'], ), count_sdpa)
    params = parameter_count(model.backbone if backbone_only else model)['']
    return flops, params, (height, width)
