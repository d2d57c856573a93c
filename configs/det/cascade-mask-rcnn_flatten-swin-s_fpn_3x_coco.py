# FLatten-Swin-S + Cascade Mask R-CNN 3x: the Agent-Swin-S detector's
# recipe (the FLatten paper gives none) with the backbone swapped, initialised
# from the official FLatten-Swin-S ImageNet weights.
_base_ = './cascade-mask-rcnn_agent-swin-s_fpn_3x_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='s',
        window_size=56,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/flatten_swin_s.pth')))
