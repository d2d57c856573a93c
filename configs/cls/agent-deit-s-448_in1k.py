# Agent-DeiT-S trained at 448 (agent_transformer/cfgs/agent_deit_s_448.yaml):
# a 28x28 patch grid sizes the position embedding and agent biases.
_base_ = ['./_base_/agent-deit_in1k.py',
          './_base_/datasets/imagenet_448.py']

model = dict(backbone=dict(arch='s', drop_path_rate=0.1,
                           pretrain_img_size=_base_.img_size),
             head=dict(in_channels=384))
