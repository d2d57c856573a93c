_base_ = ['./_base_/flatten-swin_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.5),
             head=dict(in_channels=1024))
train_dataloader = dict(batch_size=64)
