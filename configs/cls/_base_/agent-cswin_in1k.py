# Agent-CSWin classifiers (agent_transformer/cfgs/agent_cswin_*.yaml,
# trained by main_ema.py): the last stage through its norm (the official
# final norm), then the token mean. 20 warm-up epochs from 1e-6, cosine to
# 1e-5, 10 cool-down epochs, no clipping, model EMA (the README's decays).
_base_ = ['./agent_in1k_recipe.py']

model = dict(
    backbone=dict(type='AgentCSWin', arch='t', pretrain_img_size=224,
                  out_indices=(3, ), drop_path_rate=0.2),
    head=dict(in_channels=512))

warmup_epochs, epochs, cooldown_epochs = 20, 300, 10
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 5e-4, by_epoch=True,
         begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-5 / 5e-4,
         by_epoch=True, begin=warmup_epochs, end=epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs + cooldown_epochs)
# timm's ModelEmaV2 decay d is mmengine's momentum 1 - d
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.99984, priority='ABOVE_NORMAL')
]
