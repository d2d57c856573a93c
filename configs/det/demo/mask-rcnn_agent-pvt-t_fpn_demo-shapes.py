# The embedded detection demo: Agent-PVT-T Mask R-CNN (the real config) on
# the synthetic shapes of tools/misc/make_demo_coco.py, on CPU. As the
# paper's detectors start from an ImageNet backbone, this one starts from the
# backbone the segmentation demo trained (demo/run_demo.py runs that first;
# on its own: --cfg-options model.backbone.init_cfg=None trains from scratch).
# Data, image size, agent grid, head widths, proposal counts and schedule
# are cut to fit 10 CPU minutes; the architecture is the paper's.
_base_ = '../mask-rcnn_agent-pvt-t_fpn_1x_coco.py'

data_root = 'data/demo_coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'cross'),
    palette=[(220, 20, 60), (0, 130, 230), (250, 170, 30), (30, 170, 60)])
image_size = (128, 128)
num_classes = 4

channels = 128  # FPN and heads (256 in the full-size config)
model = dict(
    backbone=dict(
        drop_path_rate=0.0,
        # 128-pixel inputs: a 32x32 token grid at stride 4, so fewer agents.
        downstream_agent_shapes=[(8, 8), (8, 8), (7, 7), (4, 4)],
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/demo/seg/iter_320.pth',
            prefix='backbone.')),
    neck=dict(out_channels=channels),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # 2x2 samples per bin: mmcv's CPU RoIAlign backward is a serial
        # loop, and the adaptive count of the full config costs ~10% of
        # each iteration here.
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=channels),
        bbox_head=dict(
            in_channels=channels, fc_out_channels=512,
            num_classes=num_classes),
        mask_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=channels),
        # The mask head runs on every positive RoI at 14x14, so its cost
        # grows as the RPN improves: 64 channels made late iterations ~10%
        # faster here.
        mask_head=dict(
            num_convs=2, in_channels=channels, conv_out_channels=64,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    # Loading in the main process: a worker would compete with the model's
    # threads for the 2 cores, and decoding 128-pixel PNGs is cheap.
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 8
# No validation inside the training budget: tools/test.py evaluates after.
train_cfg = dict(
    max_epochs=max_epochs, val_interval=max_epochs, val_begin=max_epochs + 1)
optim_wrapper = dict(optimizer=dict(lr=3e-4), clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=1e-5)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
auto_scale_lr = dict(enable=False)
