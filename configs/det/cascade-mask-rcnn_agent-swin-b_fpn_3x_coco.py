_base_ = './_base_/cascade-mask-rcnn_agent-swin_fpn_ms-crop-3x_coco.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.4, init_cfg=dict(
        checkpoint='data/pretrained/agent_swin_b_max_acc.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
