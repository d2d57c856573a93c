# Agent-Swin + Cascade Mask R-CNN with the GIoU 4conv1fc SyncBN box heads,
# the official recipe (downstream/detection configs/agent_swin/
# agent_swin_*_crcnn_{1x,3x}_9-12-14-7.py) on mmdet 3.x. mmdet's ConvNeXt
# cascade config carries the same heads and multi-scale + crop pipeline.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',  # noqa
    '../../_base_/agent_swin.py',
    './schedules_agent-swin.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_base_.agent_swin_backbone, _delete_=True),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',  # fp32 as the official runs; --amp switches
    paramwise_cfg=dict(custom_keys=_base_.agent_swin_no_decay),
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))

max_epochs = _base_.agent_swin_3x.max_epochs
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.agent_swin_3x.param_scheduler
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
