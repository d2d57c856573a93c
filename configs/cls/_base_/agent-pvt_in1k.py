# Agent-PVT ImageNet-1k classifier, the official recipe
# (agent_transformer/cfgs/agent_pvt_*.yaml with main.py's defaults) on
# mmpretrain 1.x: the downstream backbone with the native agent grids
# (3x3, 4x4, 7x7, 7x7) computes the official classifier's features (the mean
# of the stage-4 tokens, no final norm); AdamW 5e-4 per 512 images, wd 0.05
# without decay on 1-D parameters, biases and the position embeddings (the
# agent biases are decayed, as officially), 5 warm-up epochs from 1e-6,
# cosine to 1e-5 over 300 epochs then 10 cool-down epochs at the minimum
# (all per 512 images), RandAugment m9-mstd0.5, Mixup 0.8, CutMix 1.0,
# label smoothing 0.1, random erasing 0.25, bicubic resizing.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/agent_pvt.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        _base_.agent_pvt_backbone,
        downstream_agent_shapes=[(3, 3), (4, 4), (7, 7), (7, 7)],
        out_indices=(3, ),
        init_cfg=None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))

train_dataloader = dict(batch_size=128)  # 8 GPUs x 128 images

# Per 512 images: lr 5e-4, warm-up from 1e-6, minimum 1e-5 (linearly
# scaled with the total batch, as main.py does; the base is 1024 images).
lr = 5e-4 * 1024 / 512
warmup_epochs, epochs, cooldown_epochs = 5, 300, 10
optim_wrapper = dict(
    optimizer=dict(lr=lr),
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True, pos_embed=dict(decay_mult=0.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-4, by_epoch=True,
         begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5 * 1024 / 512,
         by_epoch=True, begin=warmup_epochs, end=epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs + cooldown_epochs)
