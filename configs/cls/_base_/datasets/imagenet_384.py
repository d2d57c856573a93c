# ImageNet-1k at 384 (the 384 fine-tunes): the 224 pipeline at 384, 32
# images per GPU; tested without a crop (resized to 384x384), as the
# official Swin-B-384 (imagenet_384_crop.py: with the crop, as CSWin-B-384).
_base_ = './imagenet_224.py'

img_size = 384
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=[
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
