# Agent-Swin + UperNet (FCN auxiliary head) on ADE20K, the official recipe
# (downstream/segmentation configs/agent_swin/upernet_agent_swin_*_9-12-14-7.py)
# on mmseg 1.x: AdamW 6e-5, wd 0.01 without decay on norms and agent biases,
# 1500-iter linear warm-up then poly (power 1), 160k iterations, 16 images.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    '../../_base_/agent_swin.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
crop_size = (512, 512)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    # _delete_: the official configs silently merged the base SwinTransformer
    # kwargs into the backbone dict.
    backbone=dict(
        _base_.agent_swin_backbone, _delete_=True, drop_path_rate=0.3),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=_base_.agent_swin_no_decay))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]
train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 images
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
