_base_ = ['./_base_/flatten-cswin_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='t', drop_path_rate=0.2))
train_dataloader = dict(batch_size=256)
