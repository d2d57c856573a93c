# FLatten-Swin-S + UperNet 160k: the Agent-Swin-S segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-Swin-S ImageNet weights.
_base_ = './upernet_agent-swin-s_160k_ade20k-512x512.py'

# Each image's size before the batch padding reaches the backbone, whose
# focused linear sums then leave the padding out.
custom_imports = dict(
    imports=['mmagent', 'mmagent.models.data_preprocessors.seg'],
    allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(type='PaddingAwareSegDataPreProcessor'),
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
