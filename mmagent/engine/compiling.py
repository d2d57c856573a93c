# Copyright (c) mmagent contributors. All rights reserved.
"""``--compile`` for the tools: ``torch.compile`` of the model's backbone.

mmengine's own ``compile=True`` compiles the whole ``train_step``, the
optimizer step included, and dynamo fails on mmengine's optimizer wrapper
with torch 2.13 (``'UserDefinedDictVariable' object has no attribute
'items'`` in ``_set_capturable``). The backbone is where the attention
kinds spend the time and it traces as one graph
(``tests/test_engine/test_compile.py``), so the tools compile its
``forward`` in place: state-dict keys, hooks, checkpoints and the rest of
the model stay as they are.
"""
from typing import Optional

import torch


def pop_compile_options(cfg, requested: bool) -> Optional[dict]:
    """The ``torch.compile`` options for the backbone, taken out of ``cfg``
    (so the Runner does not compile ``train_step`` itself): ``None`` when
    neither ``requested`` (``--compile``) nor the config's ``compile``
    asks for it. Static shapes unless the config says otherwise: with
    symbolic shapes the recompile at a second input size takes many
    minutes here (window padding, partitions, pooling sizes)."""
    options = cfg.pop('compile', None)
    if not requested and not options:
        return None
    return {'dynamic': False,
            **(options if isinstance(options, dict) else {})}


def compile_backbone(model: torch.nn.Module, options: dict, logger=None):
    """Replace ``model.backbone.forward`` (through a DDP wrapper too) by its
    ``torch.compile``'d version."""
    module = getattr(model, 'module', model)
    backbone = getattr(module, 'backbone', None)
    if backbone is None:
        raise ValueError(f'--compile: {type(module).__name__} has no '
                         f'backbone to compile')
    backbone.forward = torch.compile(backbone.forward, **options)
    if logger is not None:
        logger.info(f'backbone compiled (torch.compile, {options}); the '
                    f'first step at each input size compiles')
