# FLatten-Swin-T + Mask R-CNN 3x: the Agent-Swin-T detector's recipe
# (Swin's multi-scale + crop pipeline; the FLatten paper gives none) with
# the backbone swapped: global focused linear attention in stages 1-2,
# shifted 7x7 windows in stages 3-4, initialised from the official
# FLatten-Swin-T ImageNet weights.
_base_ = ['./mask-rcnn_agent-swin-t_fpn_3x_coco.py', '../_base_/flatten.py']

custom_imports = _base_.flatten_det_imports
model = dict(type='PaddingAwareMaskRCNN',
             backbone=dict(_base_.flatten_swin_t, drop_path_rate=0.1))
