# Agent-DeiT-S trained at 448 (agent_transformer/cfgs/agent_deit_s_448.yaml):
# a 28x28 patch grid sizes the position embedding and agent biases.
_base_ = './_base_/agent-deit_in1k.py'

img_size = 448
model = dict(backbone=dict(arch='s', drop_path_rate=0.1,
                           pretrain_img_size=img_size),
             head=dict(in_channels=384))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
        for t in _base_.train_pipeline
    ]))
# test crop on: resize the short edge to 256/224 of the size, centre crop
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short',
         backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
