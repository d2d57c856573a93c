# FLatten-PVT-T + Mask R-CNN 1x. The FLatten paper gives no detection
# recipe and no code; this is the Agent-PVT-T detector's (the same lab's
# PVT 1x recipe) with the backbone swapped: global focused linear attention
# in every stage, initialised from the official FLatten-PVT-T ImageNet
# weights (FLatten-Transformer README, `{'model': ...}`, loaded as is).
_base_ = './mask-rcnn_agent-pvt-t_fpn_1x_coco.py'

# Each image's size before the batch padding reaches the backbone, whose
# focused linear sums then leave the padding out.
custom_imports = dict(
    imports=['mmagent', 'mmagent.models.data_preprocessors.det'],
    allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(type='PaddingAwareDetDataPreprocessor'),
    backbone=dict(
        _delete_=True,
        type='FLattenPVT',
        arch='t',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/flatten_pvt_t.pth')))
