# Agent-Swin-S trained at 288 (agent_transformer/cfgs/agent_swin_s_288.yaml):
# window 72 (softmax windows 9), agent biases on 72/36/18/9 grids; tested
# without crop.
_base_ = ['./_base_/agent-swin_in1k.py',
          './_base_/datasets/imagenet_288.py']

model = dict(backbone=dict(arch='s', drop_path_rate=0.3,
                           pretrain_img_size=_base_.img_size, window_size=72))
