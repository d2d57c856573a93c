# FLatten-PVTv2 classifiers (FLatten-Transformer cfgs/flatten_pvt_v2_*.yaml):
# PVTv2 (overlapping patch embeddings, DWConv MLPs, a norm per stage) with
# focused linear attention in every stage, global ('1111'); the classifier's
# features are the mean of the stage-4 tokens after norm4. The schedule is
# the PVT one of the same code base: 5 warm-up epochs from 1e-6, cosine to
# 1e-5, 10 cool-down epochs; clipping 1.0 for B3/B4. attn.scale and
# attn.positional_encoding are decayed, as officially.
_base_ = ['./agent_in1k_recipe.py']

model = dict(
    backbone=dict(
        type='FLattenPVTv2',
        arch='b1',
        attn_type='LLLL',
        la_sr_ratios='1111',
        focusing_factor=3,
        kernel_size=5,
        drop_path_rate=0.1,
        out_indices=(3, ),
        init_cfg=None),
    head=dict(in_channels=512))

warmup_epochs, epochs, cooldown_epochs = 5, 300, 10
# no absolute position embedding; no_weight_decay() lists only cls_token
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
