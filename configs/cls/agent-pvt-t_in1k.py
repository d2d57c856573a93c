_base_ = ['./_base_/agent-pvt_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='t', drop_path_rate=0.1))
