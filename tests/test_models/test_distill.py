"""DistilledImageClassifier (models/classifiers/distill.py): a frozen
teacher from its checkpoint, outside the student's state."""
import pytest
import torch
from conftest import TINY_PVT, assert_tensors_equal
from mmengine.registry import MODELS


def classifier_cfg(backbone):
    return dict(
        type='ImageClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64,
                  loss=dict(type='CrossEntropyLoss')))


def test_distillation_from_a_frozen_teacher(tmp_path):
    import mmagent.models.classifiers.distill  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    fp_backbone = dict(type='AgentPVT', attn_type='BBBB', **TINY_PVT)
    teacher = MODELS.build(classifier_cfg(fp_backbone))
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    student = MODELS.build(dict(
        classifier_cfg(dict(type='BiViT', backbone=fp_backbone)),
        type='DistilledImageClassifier', teacher=classifier_cfg(fp_backbone),
        teacher_checkpoint=str(ckpt)))
    student.init_weights()  # as the runner does before training
    # the teacher is the checkpoint's, frozen, and not part of the student
    assert_tensors_equal(student.teacher.state_dict(),
                         teacher.state_dict())
    assert not any(k.startswith('teacher') for k in student.state_dict())
    student.train()
    assert not student.teacher.training
    x = torch.randn(2, 3, 64, 64)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    losses = student.loss(x, samples)
    assert set(losses) == {'loss_distill'}
    with torch.no_grad():
        t = teacher(x, mode='tensor')
    s = student(x, mode='tensor')
    expected = (t.softmax(-1) * (t.log_softmax(-1) - s.log_softmax(-1))
                ).sum(-1).mean()
    assert torch.allclose(losses['loss_distill'], expected, atol=1e-6)
    losses['loss_distill'].backward()
    assert student.head.fc.weight.grad is not None
    assert all(p.grad is None for p in student.teacher.parameters())
    # with the labels too
    student.label_weight = 0.5
    assert 'loss' in student.loss(x, samples)
    with pytest.raises(ValueError, match='randomly initialised teacher'):
        MODELS.build(dict(
            classifier_cfg(fp_backbone), type='DistilledImageClassifier',
            teacher=classifier_cfg(fp_backbone))).init_weights()
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(1)}}, bad)
    with pytest.raises(Exception, match='size mismatch|Missing key'):
        MODELS.build(dict(
            classifier_cfg(fp_backbone), type='DistilledImageClassifier',
            teacher=classifier_cfg(fp_backbone),
            teacher_checkpoint=str(bad))).init_weights()
