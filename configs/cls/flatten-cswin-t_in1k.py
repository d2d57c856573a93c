_base_ = './_base_/flatten-cswin_in1k.py'

model = dict(backbone=dict(arch='t', drop_path_rate=0.2))
train_dataloader = dict(batch_size=256)
