# FLatten-Swin-B fine-tuned at 384 from the 224 model
# (cfgs/flatten_swin_b_384.yaml): Agent-Swin-B-384's recipe (window 96,
# softmax windows 12, 30 epochs, 5 warm-up epochs, lr 2e-5 from 2e-8 to
# 2e-7 per 512 images, wd 1e-8, tested without crop) with the FLatten
# backbone. The official 224 checkpoint is fitted to 384 when loaded
# (positional encodings, relative position tables).
_base_ = ['./agent-swin-b-384_in1k.py', '../_base_/flatten.py']

model = dict(backbone=dict(
    _base_.flatten_cls_backbone, type='FLattenSwinTransformer', arch='b',
    attn_type='LLSS', drop_path_rate=0.5, pretrain_img_size=384,
    window_size=96, pad_small_map=False, init_cfg=dict(
        type='Pretrained', checkpoint='https://cloud.tsinghua.edu.cn/f/'
        '7a9e5186bad04e7fb3a9/?dl=1')))
