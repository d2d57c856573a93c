# FLatten-Swin-S + UperNet 160k: the Agent-Swin-S segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-Swin-S ImageNet weights.
_base_ = './upernet_agent-swin-s_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='s',
        window_size=56,
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/flatten_swin_s.pth')))
