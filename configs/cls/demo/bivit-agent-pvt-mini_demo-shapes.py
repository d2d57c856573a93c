# The BiViT stage of the embedded demo: the classification demo's
# full-precision Agent-PVT (configs/cls/demo/agent-pvt-mini_demo-shapes.py,
# trained first by demo/run_demo.py) fine-tuned with its attention
# binarized and distilled from itself, on CPU. Its blocks are all agent
# attention, so this is BiViT's experimental agent=True (SAB on both agent
# maps); MLPs stay full precision (the paper's stage 1). The paper's 150 +
# 150 epochs become a few, at a lower learning rate.
_base_ = './agent-pvt-mini_demo-shapes.py'
custom_imports = dict(
    imports=['mmagent', 'mmagent.models.classifiers.distill'],
    allow_failed_imports=False)

fp_checkpoint = 'work_dirs/demo/cls/epoch_18.pth'
fp_classifier = dict(
    type='ImageClassifier',
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    head=dict(type='LinearClsHead', num_classes=len(_base_.classes),
              in_channels=256))
model = dict(
    type='DistilledImageClassifier',
    backbone=dict(_delete_=True, type='BiViT', attn=True, mlp=False,
                  agent=True, backbone=_base_.model.backbone),
    teacher=fp_classifier,
    teacher_checkpoint=fp_checkpoint,
    distill_weight=1.0,
    label_weight=0.0)
load_from = fp_checkpoint

epochs = 6
train_cfg = dict(max_epochs=epochs, val_interval=epochs + 1)
# the paper's optimizer (Adam, no weight decay) at a fine-tuning rate
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='Adam', lr=2e-4, weight_decay=0.),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, by_epoch=True,
         begin=0, end=epochs, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=epochs, max_keep_ckpts=1))
