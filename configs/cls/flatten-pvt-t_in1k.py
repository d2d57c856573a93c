_base_ = './_base_/flatten-pvt_in1k.py'

model = dict(backbone=dict(arch='t', drop_path_rate=0.1))
