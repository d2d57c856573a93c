_base_ = './_base_/mask-rcnn_agent-pvt_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.2, init_cfg=dict(
        checkpoint='data/pretrained/agent_pvt_l_max_acc.pth')))
