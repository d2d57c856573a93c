# FLatten-CSWin classifiers (FLatten-Transformer cfgs/flatten_cswin_*.yaml,
# trained by main_ema.py): focused linear attention over the whole map in
# stages 1-2 (la_split_size = the grids), stripe softmax in stages 3-4; the
# last stage through its norm (the official final norm), then the token
# mean. Everything but the backbone is the Agent-CSWin classifier's (same
# code base): 20 warm-up epochs from 1e-6, cosine to 1e-5, 10 cool-down
# epochs, no clipping, model EMA 0.99984 (B: 0.99982 in its leaf).
_base_ = ['./agent-cswin_in1k.py', '../../_base_/flatten.py']

model = dict(backbone=dict(
    _base_.flatten_cls_backbone, type='FLattenCSWin', arch='t',
    pretrain_img_size=224, la_split_size='56-28-14-7', drop_path_rate=0.2,
    init_cfg=None))
