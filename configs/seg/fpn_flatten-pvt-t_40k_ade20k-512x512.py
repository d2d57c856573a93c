# FLatten-PVT-T + Semantic FPN 40k: the Agent-PVT-T segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-PVT-T ImageNet weights.
_base_ = ['./fpn_agent-pvt-t_40k_ade20k-512x512.py', '../_base_/flatten.py']

custom_imports = _base_.flatten_seg_imports
model = dict(type='PaddingAwareEncoderDecoder',
             backbone=dict(_base_.flatten_pvt_t, drop_path_rate=0.1))
