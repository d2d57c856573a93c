# Agent-PVT classifiers (agent_transformer/cfgs/agent_pvt_*.yaml): the
# downstream backbone with the native agent grids (3x3, 4x4, 7x7, 7x7)
# computes the official classifier's features, the mean of the stage-4
# tokens (no final norm). 5 warm-up epochs from 1e-6, cosine to 1e-5, then
# 10 cool-down epochs at the minimum; no clipping (T, S) or 1.0 (M, L).
_base_ = ['./agent_in1k_recipe.py', '../../_base_/agent_pvt.py']

# the native agent grids of the ImageNet model
model = dict(
    backbone=dict(_base_.agent_pvt_backbone, out_indices=(3, ), init_cfg=None,
                  downstream_agent_shapes=[(3, 3), (4, 4), (7, 7), (7, 7)]),
    head=dict(in_channels=512))

warmup_epochs, epochs, cooldown_epochs = 5, 300, 10
# PVT's no_weight_decay() lists only cls_token (which it does not have):
# its pos_embed{i} are decayed, unlike DeiT's pos_embed.
optim_wrapper = dict(
    clip_grad=None,
    paramwise_cfg=dict(custom_keys=dict(
        _delete_=True,
        cls_token=dict(decay_mult=0.),
        relative_position_bias_table=dict(decay_mult=0.))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-4, by_epoch=True,
         begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-5 / 5e-4,
         by_epoch=True, begin=warmup_epochs, end=epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs + cooldown_epochs)
