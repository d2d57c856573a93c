# BiViT Swin-T + Cascade Mask R-CNN 1x (the BiViT paper's Table 9: 40.8
# box / 35.7 mask AP): only the backbone's attention binarized (MLPs, neck
# and heads full precision, as the paper), on the Agent-Swin-T cascade
# detector's recipe (the official Swin 1x recipe: multi-scale and
# DETR-style crops, AdamW, 12
# epochs; the paper says "Swin's mmdet hyperparameters"). The paper does not
# say whether it starts from binary or full-precision ImageNet weights; this
# starts from the official full-precision Swin-T (loaded as is; the
# binarized layers' alpha are set from its weights at the first forward).
_base_ = './cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='BiViT',
        attn=True,
        mlp=False,
        backbone=dict(
            type='AgentSwinTransformer',
            arch=dict(embed_dims=96, depths=[2, 2, 6, 2],
                      num_heads=[3, 6, 12, 24], attn_type='BBBB'),
            window_size=56,
            drop_path_rate=0.2,
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(
                type='Pretrained',
                checkpoint='data/pretrained/swin_tiny_patch4_window7_224.pth'
            ))))
# the binary layers' scales are not decayed (as the other 1-D parameters)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys=dict(alpha=dict(decay_mult=0.))))
