# Quick-start name: Agent-PVT-T Mask R-CNN 1x on COCO.
_base_ = './mask-rcnn_agent-pvt-t_fpn_1x_coco.py'
