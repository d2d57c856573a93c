# Agent-CSWin-B fine-tuned at 384 from the 224 model
# (agent_transformer/cfgs/agent_cswin_b_384.yaml): stripes 1/2/12/12, agents
# over the whole 96/48/24/12 maps, 20 epochs without warm-up at 5e-6 down to
# 5e-7 (per 512 images), then 10 cool-down epochs, wd 1e-8, EMA 0.9998. The
# official 224 checkpoint is fitted to 384 when loaded.
_base_ = ['./_base_/agent-cswin_in1k.py',
          './_base_/datasets/imagenet_384_crop.py']

model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.7, pretrain_img_size=_base_.img_size,
        split_size=[1, 2, 12, 12], la_split_size='96-48-24-12',
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='https://cloud.tsinghua.edu.cn/f/'
            'c8035b0839b2410c8c9f/?dl=1')),
    head=dict(in_channels=768))

base_lr = 5e-6 * 1024 / 512
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=1e-8))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=5e-7 / 5e-6,
         by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20 + 10)
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.9998, priority='ABOVE_NORMAL')
]
