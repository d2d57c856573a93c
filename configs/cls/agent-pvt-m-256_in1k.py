# Agent-PVT-M trained at 256 (agent_transformer/cfgs/agent_pvt_m_256.yaml):
# 64x64 stage-1 tokens size the position embeddings and agent biases.
_base_ = ['./_base_/agent-pvt_in1k.py',
          './_base_/datasets/imagenet_256.py']

model = dict(backbone=dict(arch='m', drop_path_rate=0.3,
                           pretrain_img_size=_base_.img_size))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
