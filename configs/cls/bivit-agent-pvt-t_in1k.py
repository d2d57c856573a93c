# BiViT on Agent-PVT-T (experimental: not in the BiViT paper, no published
# result). Agent-PVT-T has agent attention in every stage, so agent=True is
# what binarizes its attention (SAB on both agent maps, rows divided by
# their count; see the README's BiViT section). Start from the official
# Agent-PVT-T ImageNet weights, converted:
#   python tools/model_converters/official2mmagent.py agent_pvt_t.pth \
#       data/pretrained/agent_pvt_t_in1k.pth \
#       --config configs/cls/agent-pvt-t_in1k.py
_base_ = ['./_base_/bivit-pvt_in1k.py',
          './_base_/datasets/imagenet_224.py']

fp_checkpoint = 'data/pretrained/agent_pvt_t_in1k.pth'
model = dict(
    backbone=dict(agent=True, backbone=dict(arch='t', drop_path_rate=0.1)),
    teacher=dict(backbone=dict(arch='t')),
    teacher_checkpoint=fp_checkpoint)
load_from = fp_checkpoint
