_base_ = ['./_base_/flatten-pvt_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='s', drop_path_rate=0.1))
train_dataloader = dict(batch_size=64)
