# The embedded segmentation demo: Semantic FPN Agent-PVT-T (the real config)
# trained from scratch on the synthetic ADE20K-format scenes of
# tools/misc/make_demo_ade20k.py, on CPU. Data, crop size, agent grid and
# schedule differ; the model is the paper's.
_base_ = '../fpn_agent-pvt-t_40k_ade20k-512x512.py'

data_root = 'data/demo_ade20k/'
# BaseSegDataset rather than ADE20KDataset: the latter only accepts subsets
# of ADE20K's 150 class names. Same folder layout and label convention.
dataset_type = 'BaseSegDataset'
metainfo = dict(
    classes=('sky', 'grass', 'water', 'sand', 'brick', 'wood', 'road',
             'circle', 'square', 'triangle', 'cross', 'star', 'ring'),
    palette=[[135, 206, 235], [60, 160, 60], [30, 80, 200], [230, 200, 140],
             [180, 60, 40], [130, 80, 30], [90, 90, 90], [220, 20, 60],
             [0, 130, 230], [250, 170, 30], [150, 50, 200], [255, 105, 180],
             [0, 200, 200]])
crop_size = (128, 128)
max_iters = 320

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        drop_path_rate=0.0,
        # 128-pixel inputs: a 32x32 token grid at stride 4, so fewer agents.
        downstream_agent_shapes=[(8, 8), (8, 8), (7, 7), (4, 4)],
        init_cfg=None),  # from scratch
    decode_head=dict(num_classes=13))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
demo_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        **demo_dataset,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        **demo_dataset,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# No validation inside the training budget: tools/test.py evaluates after.
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters,
    val_begin=max_iters + 1)
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=30),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=30, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
