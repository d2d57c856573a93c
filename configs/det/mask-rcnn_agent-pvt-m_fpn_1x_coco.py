_base_ = './_base_/mask-rcnn_agent-pvt_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='m', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='data/pretrained/agent_pvt_m_max_acc.pth')))
