# BiViT Swin-T + Mask R-CNN 1x (the BiViT paper's Table 9:
# 33.4 box / 31.6 mask AP): only the backbone's attention binarized (MLPs,
# neck and heads full precision, as the paper), on the Agent-Swin-T
# detector's recipe (the official Swin 1x recipe: multi-scale and
# DETR-style crops, AdamW, 12 epochs; the paper says "Swin's mmdet
# hyperparameters"). The paper does not say whether it starts from binary
# or full-precision ImageNet weights; this starts from the official
# full-precision Swin-T (see configs/_base_/bivit.py).
_base_ = [
    './mask-rcnn_agent-swin-t_fpn_1x_coco.py',
    '../_base_/bivit.py'
]

model = dict(backbone=dict(_base_.bivit_swin_t_det_backbone, _delete_=True))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.bivit_no_decay))
