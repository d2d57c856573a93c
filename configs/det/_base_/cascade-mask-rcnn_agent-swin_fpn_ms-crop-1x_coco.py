# The 1x schedule of the official Agent-Swin detectors (12 epochs, steps at
# 8 and 11) on the 3x recipe's multi-scale + crop pipeline.
_base_ = './cascade-mask-rcnn_agent-swin_fpn_ms-crop-3x_coco.py'

max_epochs = _base_.agent_swin_1x.max_epochs
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = _base_.agent_swin_1x.param_scheduler
