# BiViT PVT classifiers: the full-precision classifier of this family as
# the teacher and the starting point, its backbone binarized (the paper's
# "1-bit weights, 1-bit attention activations, fp MLP activations":
# softmax attention binary from the start, MLP weights binary from epoch
# 151), trained by distillation alone. Leaves set the arch (student and
# teacher) and the full-precision checkpoint (teacher_checkpoint and
# load_from: an mmpretrain checkpoint, e.g. converted from the official
# one by tools/model_converters/official2mmagent.py).
_base_ = ['./agent-pvt_in1k.py', '../../_base_/bivit.py']
custom_imports = dict(imports=_base_.bivit_imports,
                      allow_failed_imports=False)

fp_classifier = dict(
    type='ImageClassifier',
    backbone=dict(_base_.model.backbone, drop_path_rate=0.),
    neck=_base_.model.neck,
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512))
model = dict(
    type='DistilledImageClassifier',
    backbone=dict(_delete_=True, type='BiViT', attn=True, mlp='deferred',
                  backbone=_base_.model.backbone),
    teacher=fp_classifier,
    distill_weight=1.0,
    label_weight=0.0)

optim_wrapper = _base_.bivit_optim_wrapper
param_scheduler = _base_.bivit_param_scheduler
train_cfg = dict(max_epochs=_base_.bivit_epochs)
custom_hooks = _base_.bivit_custom_hooks
# Until the CLB switch the MLPs' alpha take no part in the loss: DDP must
# not wait for their gradients.
find_unused_parameters = True
