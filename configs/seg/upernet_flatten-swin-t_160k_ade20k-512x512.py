# FLatten-Swin-T + UperNet 160k: the Agent-Swin-T segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-Swin-T ImageNet weights.
_base_ = ['./upernet_agent-swin-t_160k_ade20k-512x512.py',
          '../_base_/flatten.py']

custom_imports = _base_.flatten_seg_imports
model = dict(type='PaddingAwareEncoderDecoder',
             backbone=dict(_base_.flatten_swin_t, drop_path_rate=0.3))
