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
