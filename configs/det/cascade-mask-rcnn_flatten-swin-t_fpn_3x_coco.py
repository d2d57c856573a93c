# FLatten-Swin-T + Cascade Mask R-CNN 3x: the Agent-Swin-T detector's
# recipe (the FLatten paper gives none) with the backbone swapped, initialised
# from the official FLatten-Swin-T ImageNet weights.
_base_ = './cascade-mask-rcnn_agent-swin-t_fpn_3x_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='t',
        window_size=56,
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/flatten_swin_t.pth')))
