# Agent-PVT-M trained at 256 (agent_transformer/cfgs/agent_pvt_m_256.yaml):
# 64x64 stage-1 tokens size the position embeddings and agent biases.
_base_ = './_base_/agent-pvt_in1k.py'

img_size = 256
model = dict(backbone=dict(arch='m', drop_path_rate=0.3,
                           pretrain_img_size=img_size))
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
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
