# BiViT on Agent-Swin-T (experimental: not in the BiViT paper, no published
# result): the window softmax blocks of stage 4 as BiViT-Swin, and with
# agent=True the agent blocks of stages 1-3 binarized too (SAB on both
# agent maps, rows divided by their count; see the README's BiViT section).
# Start from the official Agent-Swin-T ImageNet weights, converted:
#   python tools/model_converters/official2mmagent.py agent_swin_t.pth \
#       data/pretrained/agent_swin_t_in1k.pth \
#       --config configs/cls/agent-swin-t_in1k.py
_base_ = ['./_base_/bivit-swin_in1k.py',
          './_base_/datasets/imagenet_224.py']

fp_checkpoint = 'data/pretrained/agent_swin_t_in1k.pth'
model = dict(
    backbone=dict(agent=True, backbone=dict(arch='t', drop_path_rate=0.1)),
    teacher=dict(backbone=dict(arch='t')),
    teacher_checkpoint=fp_checkpoint)
load_from = fp_checkpoint
