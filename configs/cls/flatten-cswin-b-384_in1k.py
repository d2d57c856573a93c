# FLatten-CSWin-B fine-tuned at 384 from the 224 model
# (cfgs/flatten_cswin_b_384.yaml): Agent-CSWin-B-384's recipe (stripes
# 1/2/12/12, 20 epochs without warm-up at 5e-6 to 5e-7 per 512 images, then
# 10 cool-down epochs, wd 1e-8) with the FLatten backbone (focused linear
# attention over the whole 96/48 maps) and EMA 0.99982. No official
# FLatten-CSWin-B weights exist: it starts from a flatten-cswin-b_in1k.py
# run (fitted to 384 on load).
_base_ = ['./agent-cswin-b-384_in1k.py', '../_base_/flatten.py']

model = dict(backbone=dict(
    _base_.flatten_cls_backbone, type='FLattenCSWin', arch='b',
    drop_path_rate=0.7, pretrain_img_size=384, split_size=[1, 2, 12, 12],
    la_split_size='96-48-24-12', init_cfg=dict(
        type='Pretrained',
        checkpoint='work_dirs/flatten-cswin-b_in1k/epoch_310.pth')))
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.99982, priority='ABOVE_NORMAL')
]
