# Agent-Swin classifiers (agent_transformer/cfgs/agent_swin_*.yaml): the
# downstream backbone with the native agent grids, only the last stage out
# through its norm (the official final norm), then average pooling; a 7x7
# last stage is not shifted (pad_small_map=False), as in the official
# classifier. main.py's schedule (20 warm-up epochs, clipping at 5.0).
_base_ = ['./agent_in1k_recipe.py', '../../_base_/agent_swin.py']

# the native agent grids of the ImageNet model
model = dict(
    backbone=dict(_base_.agent_swin_backbone, out_indices=(3, ), init_cfg=None,
                  downstream_agent_shapes=[(3, 3), (4, 4), (7, 7), (7, 7)],
                  pad_small_map=False),
    head=dict(in_channels=768))
