# The official ImageNet-1k recipe of every Agent classifier
# (agent_transformer/main.py and config.py defaults) on mmpretrain 1.x; the
# family bases set the model and their schedule, the leaves the per-model
# values of agent_transformer/cfgs/*.yaml and their resolution's dataset
# base (datasets/imagenet_{224,256,288,384,448}.py).
# - AdamW, lr 5e-4 per 512 images, linearly scaled with the real total batch
#   (auto_scale_lr enabled, like main.py); warm-up and minimum lr are ratios
#   of it, so they scale too. Written for 8 GPUs x 128 images = 1024.
# - wd 0.05, none on 1-D parameters, biases, position embeddings, class
#   tokens and relative position tables (each model's no_weight_decay();
#   PVT's lists only cls_token, so the PVT bases decay pos_embed{i}); the
#   agent biases ARE decayed here (the downstream Swin configs exclude
#   them).
# - cosine schedule with linear warm-up, gradient clipping at 5.0 (default),
#   RandAugment rand-m9-mstd0.5-inc1, Mixup 0.8 / CutMix 1.0, label smoothing
#   0.1, random erasing 0.25, bicubic resizing (mmpretrain's swin pipeline).
_base_ = [
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))

base_lr = 5e-4 * 1024 / 512
optim_wrapper = dict(
    optimizer=dict(lr=base_lr),
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True,
        pos_embed=dict(decay_mult=0.),
        cls_token=dict(decay_mult=0.),
        relative_position_bias_table=dict(decay_mult=0.))),
    clip_grad=dict(max_norm=5.0))

# main.py's defaults: 20 warm-up epochs from 5e-7, cosine to 5e-6 (per 512
# images, as ratios of the base lr), 300 epochs, no cool-down.
param_scheduler = [
    dict(type='LinearLR', start_factor=5e-7 / 5e-4, by_epoch=True,
         begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=5e-6 / 5e-4,
         by_epoch=True, begin=20, end=300, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=300)
auto_scale_lr = dict(base_batch_size=1024, enable=True)
