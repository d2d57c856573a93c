_base_ = './_base_/retinanet_agent-pvt_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='s', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='data/pretrained/agent_pvt_s_max_acc.pth')))
