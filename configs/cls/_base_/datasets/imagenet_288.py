# ImageNet-1k at 288 (agent_swin_s_288): the 224 pipeline at 288, 64 images
# per GPU; tested without a crop (resized to 288x288), as the official
# model.
_base_ = './imagenet_224.py'

img_size = 288
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=[
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
