_base_ = './_base_/upernet_agent-swin_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='t', drop_path_rate=0.3, init_cfg=dict(
        checkpoint='data/pretrained/agent_swin_t_max_acc.pth')))
