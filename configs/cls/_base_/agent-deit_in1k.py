# Agent-DeiT classifiers (agent_transformer/cfgs/agent_deit_*.yaml): the
# class token after the final norm, a linear head. main.py's schedule
# (20 warm-up epochs, clipping at 5.0).
_base_ = ['./agent_in1k_recipe.py']

model = dict(
    backbone=dict(type='AgentDeiT', arch='t', pretrain_img_size=224,
                  out_type='cls_token', drop_path_rate=0.),
    neck=None,
    head=dict(in_channels=192))
