# BiViT (He et al., ICCV 2023) training pieces shared by the classifier
# bases; read them through `_base_.` (names prefixed, as they sit beside
# other bases).
# The paper (§4.1): from the full-precision model, knowledge distillation
# from it (ReActNet's distribution loss), Adam, no weight decay, lr 5e-4,
# cosine with 5 warm-up epochs, 300 epochs as 150 + 150 with cross-layer
# binarization (attention binary first, MLP weights from epoch 151), DeiT
# augmentations, 224x224. Its batch size is not stated: lr 5e-4 is taken
# for a total batch of 1024 (8 GPUs x 128) and scaled linearly
# (auto_scale_lr).
bivit_epochs, bivit_switch_epoch, bivit_warmup_epochs = 300, 150, 5
bivit_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=5e-4, weight_decay=0.))
bivit_param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=bivit_warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True,
         begin=bivit_warmup_epochs, end=bivit_epochs,
         convert_to_iter_based=True),
]
bivit_custom_hooks = [
    dict(type='CrossLayerBinarizationHook', switch_epoch=bivit_switch_epoch)
]
bivit_imports = ['mmagent', 'mmagent.models.classifiers.distill']

# The detectors (the paper's Table 9): Swin-T with only its attention
# binarized, from the official full-precision ImageNet weights (loaded as
# they are; the binary layers' alpha are set from them at the first
# forward), and no weight decay on those scales.
bivit_swin_t_det_backbone = dict(
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
            checkpoint='data/pretrained/swin_tiny_patch4_window7_224.pth')))
bivit_no_decay = dict(alpha=dict(decay_mult=0.))
