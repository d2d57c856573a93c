_base_ = ['./_base_/flatten-pvtv2_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='b3', drop_path_rate=0.3))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
