_base_ = './_base_/mask-rcnn_agent-swin_fpn_ms-crop-3x_coco.py'

model = dict(
    backbone=dict(
        arch='t',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='data/pretrained/agent_swin_t_max_acc.pth')))

max_epochs = _base_.agent_swin_1x.max_epochs
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.agent_swin_1x.param_scheduler
