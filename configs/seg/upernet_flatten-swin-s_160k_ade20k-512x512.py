# FLatten-Swin-S + UperNet 160k: the Agent-Swin-S segmentor's recipe (the
# FLatten paper gives none) with the backbone swapped, initialised from the
# official FLatten-Swin-S ImageNet weights.
_base_ = ['./upernet_agent-swin-s_160k_ade20k-512x512.py',
          '../_base_/flatten.py']

custom_imports = _base_.flatten_seg_imports
model = dict(type='PaddingAwareEncoderDecoder',
             backbone=dict(_base_.flatten_swin_s, drop_path_rate=0.3))
