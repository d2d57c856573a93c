# ImageNet-1k at 256 (agent_pvt_m_256): the 224 pipeline at 256, 64 images
# per GPU; tested with the official crop (short edge 256/224 of the size,
# centre crop).
_base_ = './imagenet_224.py'

img_size = 256
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=[
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short',
         backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
