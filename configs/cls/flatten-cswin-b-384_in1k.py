# FLatten-CSwin-B fine-tuned at 384 from the 224 model
# (cfgs/flatten_cswin_b_384.yaml): stripes 1/2/12/12, focused linear
# attention over the whole 96/48 maps, 20 epochs without warm-up at 5e-6 to
# 5e-7 (per 512 images), then 10 cool-down epochs, wd 1e-8, EMA 0.99982.
# No official FLatten-CSwin-B weights exist: it starts from a
# flatten-cswin-b_in1k.py run (fitted to 384 on load).
_base_ = './_base_/flatten-cswin_in1k.py'

img_size = 384
model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.7, pretrain_img_size=img_size,
        split_size=[1, 2, 12, 12], la_split_size='96-48-24-12',
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='work_dirs/flatten-cswin-b_in1k/'
            'epoch_310.pth')),
    head=dict(in_channels=768))
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
        for t in _base_.train_pipeline
    ]))
# test crop on: resize the short edge to 256/224 of the size, centre crop
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short',
         backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader

base_lr = 5e-6 * 1024 / 512
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=1e-8))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=5e-7 / 5e-6,
         by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20 + 10)
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.99982, priority='ABOVE_NORMAL')
]
