# Agent-Swin-S trained at 288 (agent_transformer/cfgs/agent_swin_s_288.yaml):
# window 72 (softmax windows 9), agent biases on 72/36/18/9 grids; tested
# without crop.
_base_ = './_base_/agent-swin_in1k.py'

img_size = 288
model = dict(backbone=dict(arch='s', drop_path_rate=0.3,
                           pretrain_img_size=img_size, window_size=72))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
        for t in _base_.train_pipeline
    ]))
val_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]))
test_dataloader = val_dataloader
