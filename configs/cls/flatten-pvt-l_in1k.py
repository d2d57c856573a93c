# The official config is flatten_pvt_b.yaml (flatten_pvt_large).
_base_ = ['./_base_/flatten-pvt_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='l', drop_path_rate=0.3))
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
