_base_ = ['./_base_/agent-cswin_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='s', drop_path_rate=0.4),
             head=dict(in_channels=512))
