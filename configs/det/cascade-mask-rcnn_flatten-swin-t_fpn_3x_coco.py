# FLatten-Swin-T + Cascade Mask R-CNN 3x: the Agent-Swin-T detector's
# recipe (the FLatten paper gives none) with the backbone swapped, initialised
# from the official FLatten-Swin-T ImageNet weights.
_base_ = './cascade-mask-rcnn_agent-swin-t_fpn_3x_coco.py'

# Each image's size before the batch padding reaches the backbone, whose
# focused linear sums then leave the padding out.
custom_imports = dict(
    imports=['mmagent', 'mmagent.models.data_preprocessors.det'],
    allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(type='PaddingAwareDetDataPreprocessor'),
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
