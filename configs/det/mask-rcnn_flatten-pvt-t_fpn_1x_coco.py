# FLatten-PVT-T + Mask R-CNN 1x. The FLatten paper gives no detection
# recipe and no code; this is the Agent-PVT-T detector's (the same lab's
# PVT 1x recipe) with the backbone swapped: global focused linear attention
# in every stage, initialised from the official FLatten-PVT-T ImageNet
# weights (FLatten-Transformer README, `{'model': ...}`, loaded as is).
_base_ = ['./mask-rcnn_agent-pvt-t_fpn_1x_coco.py', '../_base_/flatten.py']

custom_imports = _base_.flatten_det_imports
model = dict(type='PaddingAwareMaskRCNN',
             backbone=dict(_base_.flatten_pvt_t, drop_path_rate=0.1))
