# FLatten-Swin-S + Cascade Mask R-CNN 3x: the Agent-Swin-S detector's
# recipe (the FLatten paper gives none) with the backbone swapped, initialised
# from the official FLatten-Swin-S ImageNet weights.
_base_ = ['./cascade-mask-rcnn_agent-swin-s_fpn_3x_coco.py',
          '../_base_/flatten.py']

custom_imports = _base_.flatten_det_imports
model = dict(type='PaddingAwareCascadeRCNN',
             backbone=dict(_base_.flatten_swin_s, drop_path_rate=0.1))
