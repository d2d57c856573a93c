# FLatten-PVT-T + Semantic FPN 40k: the Agent-PVT-T segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-PVT-T ImageNet weights.
_base_ = './fpn_agent-pvt-t_40k_ade20k-512x512.py'

# Each image's size before the batch padding reaches the backbone, whose
# focused linear sums then leave the padding out.
custom_imports = dict(
    imports=['mmagent', 'mmagent.models.data_preprocessors.seg'],
    allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(type='PaddingAwareSegDataPreProcessor'),
    backbone=dict(
        _delete_=True,
        type='FLattenPVT',
        arch='t',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/flatten_pvt_t.pth')))
