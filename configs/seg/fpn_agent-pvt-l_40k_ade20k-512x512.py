_base_ = './_base_/fpn_agent-pvt_40k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.1, init_cfg=dict(
        checkpoint='data/pretrained/agent_pvt_l_max_acc.pth')))
