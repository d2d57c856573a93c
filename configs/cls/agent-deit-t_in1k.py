_base_ = ['./_base_/agent-deit_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='t', drop_path_rate=0.),
             head=dict(in_channels=192))
train_dataloader = dict(batch_size=512)
