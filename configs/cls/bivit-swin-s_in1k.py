# BiViT Swin-S (the paper's Table 3: 75.6 top-1, 15.4 MB). Swin-S is the
# Swin family with window softmax attention in every stage. Start from the
# official Swin-S (swin_small_patch4_window7_224.pth), converted:
#   python tools/model_converters/official2mmagent.py \
#       swin_small_patch4_window7_224.pth data/pretrained/swin_s_in1k.pth
_base_ = ['./_base_/bivit-swin_in1k.py',
          './_base_/datasets/imagenet_224.py']

swin_s = dict(
    _delete_=True,  # replaces the base's arch='t'
    embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
    attn_type='BBBB')
fp_checkpoint = 'data/pretrained/swin_s_in1k.pth'
model = dict(
    backbone=dict(backbone=dict(arch=swin_s, drop_path_rate=0.2)),
    teacher=dict(backbone=dict(arch=swin_s)),
    teacher_checkpoint=fp_checkpoint)
load_from = fp_checkpoint
