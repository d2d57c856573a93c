# Agent-PVT + Semantic FPN on ADE20K, the official recipe
# (downstream/segmentation configs/agent_pvt/fpn_agent_pvt_*_12-16-28-28.py)
# on mmseg 1.x: AdamW 2e-4, wd 1e-4, poly 0.9 over 40k iterations without
# warm-up, 16 images.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py',
    '../../_base_/agent_pvt.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
crop_size = (512, 512)

model = dict(
    pretrained=None,  # the base would copy a ResNet URL into the backbone
    data_preprocessor=dict(size=crop_size),
    backbone=dict(_base_.agent_pvt_backbone, _delete_=True),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]
train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 images
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
