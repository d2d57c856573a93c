_base_ = './_base_/upernet_agent-swin_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.5, init_cfg=dict(
        checkpoint='data/pretrained/agent_swin_b_max_acc.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
