_base_ = './_base_/mask-rcnn_agent-swin_fpn_ms-crop-1x_coco.py'

model = dict(
    backbone=dict(arch='s', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='data/pretrained/agent_swin_s_max_acc.pth')))
