# Copyright (c) mmagent contributors. All rights reserved.
"""Knowledge distillation from a frozen full-precision classifier, as BiViT
trains its binary models (ReActNet's distribution loss).

OpenMMLab's distillation toolbox, mmrazor (1.0.0, the latest release),
does not import on the pinned torch 2.13 (``torch.nn.intrinsic.qat`` is
gone), so this is a small wrapper instead.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from mmengine.runner import load_checkpoint
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample


@MODELS.register_module()
class DistilledImageClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` whose training loss compares its
    class distribution with a frozen teacher's on the same (augmented)
    batch: ``distill_weight * T² * KL(softmax(t / T) || softmax(s / T))``,
    plus ``label_weight`` times the head's own loss. BiViT uses the
    distribution loss alone (``label_weight=0``, ``T = 1``), which has the
    gradient of the cross-entropy with the teacher's soft labels.

    Args:
        teacher (dict): The teacher's model config (an ``ImageClassifier``
            whose ``mode='tensor'`` output is its logits).
        teacher_checkpoint (str, optional): Its weights, loaded with
            ``strict=True`` (through mmagent's safe checkpoint loading) by
            :meth:`init_weights`, which the runner calls before training.
        distill_weight (float): Weight of the distillation term. Default: 1.
        label_weight (float): Weight of the head's loss on the labels.
            Default: 0.
        temperature (float): Softmax temperature ``T``. Default: 1.
        *args, **kwargs: ``ImageClassifier``'s (the student).

    The teacher is kept outside the module tree: it is not in the
    student's state dict, optimizer or DDP wrapper, always runs in eval
    mode without gradients, and follows the inputs' device. Prediction and
    ``mode='tensor'`` are the student's alone.
    """

    def __init__(self,
                 *args,
                 teacher: dict,
                 teacher_checkpoint: Optional[str] = None,
                 distill_weight: float = 1.,
                 label_weight: float = 0.,
                 temperature: float = 1.,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got '
                             f'{temperature}')
        if distill_weight < 0 or label_weight < 0 or \
                distill_weight + label_weight == 0:
            raise ValueError(
                f'distill_weight ({distill_weight}) and label_weight '
                f'({label_weight}) must be >= 0, not both 0')
        model = MODELS.build(teacher)
        model.eval()
        model.requires_grad_(False)
        object.__setattr__(self, 'teacher', model)  # not a submodule
        self.teacher_checkpoint = teacher_checkpoint
        self.distill_weight = distill_weight
        self.label_weight = label_weight
        self.temperature = temperature

    def init_weights(self) -> None:
        """The student's initialisation, then the teacher's weights (only
        training initialises a model: testing and inference never read the
        teacher checkpoint)."""
        super().init_weights()
        self.teacher.init_weights()  # e.g. its own Pretrained init_cfg
        if self.teacher_checkpoint is not None:
            load_checkpoint(self.teacher, self.teacher_checkpoint,
                            map_location='cpu', strict=True)
        elif not any(
                (getattr(m, 'init_cfg', None) or {}).get('type') ==
                'Pretrained' for m in self.teacher.modules()
                if isinstance(getattr(m, 'init_cfg', None), dict)):
            raise ValueError(
                'DistilledImageClassifier: the teacher has no weights to '
                'load (no teacher_checkpoint, no Pretrained init_cfg): '
                'distilling from a randomly initialised teacher')

    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        teacher = self.teacher.to(inputs.device).eval()
        with torch.no_grad():
            return teacher(inputs, mode='tensor')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        feats = self.extract_feat(inputs)
        losses = {}
        if self.distill_weight:
            T = self.temperature
            student = self.head(feats).float() / T
            teacher = self.teacher_logits(inputs).float() / T
            kl = F.kl_div(student.log_softmax(-1), teacher.log_softmax(-1),
                          reduction='batchmean', log_target=True)
            losses['loss_distill'] = self.distill_weight * T * T * kl
        if self.label_weight:
            for name, value in self.head.loss(feats, data_samples).items():
                losses[name] = value * self.label_weight if name.startswith(
                    'loss') else value
        return losses
