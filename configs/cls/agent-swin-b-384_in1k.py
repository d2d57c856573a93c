# Agent-Swin-B fine-tuned at 384 from the 224 model
# (agent_transformer/cfgs/agent_swin_b_384.yaml): window 96 (softmax windows
# 12), 30 epochs, 5 warm-up epochs, lr 2e-5 from 2e-8 to 2e-7 (per 512
# images), wd 1e-8; tested without crop. The official 224 checkpoint is
# fitted to 384 when loaded (agent biases, relative position tables).
_base_ = ['./_base_/agent-swin_in1k.py',
          './_base_/datasets/imagenet_384.py']

model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.5, pretrain_img_size=_base_.img_size,
        window_size=96,
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint='https://cloud.tsinghua.edu.cn/f/'
            '4fcd2d0114bb490483c3/?dl=1')),
    head=dict(in_channels=1024))

base_lr = 2e-5 * 1024 / 512
optim_wrapper = dict(optimizer=dict(lr=base_lr, weight_decay=1e-8))
param_scheduler = [
    dict(type='LinearLR', start_factor=2e-8 / 2e-5, by_epoch=True,
         begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=2e-7 / 2e-5,
         by_epoch=True, begin=5, end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30)
