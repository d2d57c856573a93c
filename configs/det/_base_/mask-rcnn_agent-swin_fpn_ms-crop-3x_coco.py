# Agent-Swin + Mask R-CNN, the official recipe (downstream/detection
# configs/agent_swin/agent_swin_*_mrcnn_{1x,3x}_9-12-14-7.py) on mmdet 3.x:
# mmdet's Swin multi-scale + crop pipeline (used for 1x too), AdamW 1e-4,
# wd 0.05 without decay on norms and agent biases, 500-iter warm-up.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    '../../_base_/agent_swin.py',
    './schedules_agent-swin.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_base_.agent_swin_backbone, _delete_=True),
    neck=dict(in_channels=[96, 192, 384, 768]))

# _delete_: replace mmdet's Swin keys (its 'absolute_pos_embed' included).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(_base_.agent_swin_no_decay, _delete_=True)))

max_epochs = _base_.agent_swin_3x.max_epochs
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.agent_swin_3x.param_scheduler
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
