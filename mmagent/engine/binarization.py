# Copyright (c) mmagent contributors. All rights reserved.
"""Cross-layer binarization (CLB, BiViT): train with the attention
binarized, then also the MLPs."""
from typing import List

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop


@HOOKS.register_module()
class CrossLayerBinarizationHook(Hook):
    """Stage 1 (epochs ``1..switch_epoch``): the model as built, attention
    binarized, MLPs full precision. Stage 2 (from epoch ``switch_epoch +
    1``): the MLPs' PWS binary weights are enabled, their ``alpha``
    initialised from the weights that stage 1 trained.

    The model's backbone must be built with ``dict(type='BiViT', ...,
    mlp='deferred')``, so the MLPs' binary layers (and their ``alpha``)
    exist from the start: the optimizer covers them throughout, and a
    checkpoint records each layer's state (``binary_enabled``,
    ``alpha_initialized``). The stage follows the epoch counter, so
    ``--resume`` before or after the switch continues in the right stage.

    Args:
        switch_epoch (int): Epochs of stage 1 (the paper: 150 of 300).
    """
    priority = 'NORMAL'

    def __init__(self, switch_epoch: int):
        if isinstance(switch_epoch, bool) or not isinstance(
                switch_epoch, int) or switch_epoch < 1:
            raise ValueError(f'switch_epoch must be a positive number of '
                             f'epochs, got {switch_epoch!r}')
        self.switch_epoch = switch_epoch
        self._layers: List = []

    def before_train(self, runner) -> None:
        # at training only: tools/test.py (deploy mode included) has no
        # train loop and nothing to switch
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ValueError(
                'CrossLayerBinarizationHook switches at an epoch: it needs an '
                f'epoch-based training loop, not '
                f'{type(runner.train_loop).__name__}')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._layers = [
            m for m in model.modules() if getattr(m, 'clb_stage', None) == 2
        ]
        if not self._layers:
            raise ValueError(
                'CrossLayerBinarizationHook: the model has no MLP layers '
                "waiting for stage 2; build the backbone with dict(type="
                "'BiViT', backbone=..., attn=True, mlp='deferred')")

    def before_train_epoch(self, runner) -> None:
        if runner.epoch < self.switch_epoch:
            return
        switched = [m for m in self._layers if not m._enabled]
        for layer in switched:
            layer.set_binary_enabled(True)
        if switched:
            print_log(
                f'CLB stage 2 from epoch {runner.epoch + 1}: binary weights '
                f'enabled in {len(switched)} MLP layers', logger='current')
