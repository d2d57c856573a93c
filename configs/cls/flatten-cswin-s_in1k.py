_base_ = './_base_/flatten-cswin_in1k.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.4))
