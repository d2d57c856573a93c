# Agent-DeiT-B: 81 agents, agent attention in the first 4 of 12 blocks.
_base_ = ['./_base_/agent-deit_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.3),
             head=dict(in_channels=768))
