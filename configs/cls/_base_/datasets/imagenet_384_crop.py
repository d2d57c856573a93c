# ImageNet-1k at 384 tested with the official crop (short edge 256/224 of
# the size, centre crop), as CSWin-B-384.
_base_ = './imagenet_384.py'

img_size = _base_.img_size
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short',
         backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
