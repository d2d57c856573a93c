# ImageNet-1k at 224, mmpretrain's Swin pipeline: RandAugment
# (rand-m9-mstd0.5-inc1), random erasing 0.25, bicubic resizing; tested on
# the short edge resized to 256 and a 224 centre crop. 128 images per GPU
# (8 GPUs: the recipe's total batch of 1024).
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

train_dataloader = dict(batch_size=128)
