_base_ = './_base_/upernet_agent-swin_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='s',
        drop_path_rate=0.3,
        # stage 3 is all window blocks, so its agent grid is unused
        downstream_agent_shapes=[(9, 9), (12, 12), (7, 7), (7, 7)],
        init_cfg=dict(
            checkpoint='data/pretrained/agent_swin_s_max_acc.pth')))
