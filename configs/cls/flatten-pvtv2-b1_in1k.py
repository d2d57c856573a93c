_base_ = ['./_base_/flatten-pvtv2_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='b1', drop_path_rate=0.1))
