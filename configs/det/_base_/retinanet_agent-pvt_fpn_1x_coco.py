# Agent-PVT + RetinaNet 1x, the official recipe (downstream/detection
# configs/agent_pvt/agent_pvt_*_rtn_1x_12-16-28-28.py) on mmdet 3.x.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../../_base_/agent_pvt.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(_base_.agent_pvt_backbone, _delete_=True),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-4))

train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
