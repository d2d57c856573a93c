# BiViT Swin-T (the paper's Table 3: 70.8 top-1, 12.6 MB). Swin-T is the
# Swin family with window softmax attention in every stage. Start from the
# official Swin-T (swin_tiny_patch4_window7_224.pth), converted:
#   python tools/model_converters/official2mmagent.py \
#       swin_tiny_patch4_window7_224.pth data/pretrained/swin_t_in1k.pth
_base_ = ['./_base_/bivit-swin_in1k.py',
          './_base_/datasets/imagenet_224.py']

swin_t = dict(
    _delete_=True,  # replaces the base's arch='t'
    embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
    attn_type='BBBB')
fp_checkpoint = 'data/pretrained/swin_t_in1k.pth'
model = dict(
    backbone=dict(backbone=dict(arch=swin_t, drop_path_rate=0.1)),
    teacher=dict(backbone=dict(arch=swin_t)),
    teacher_checkpoint=fp_checkpoint)
load_from = fp_checkpoint
