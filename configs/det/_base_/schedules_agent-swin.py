# The schedules of the official Agent-Swin detectors (downstream/detection
# configs/agent_swin/agent_swin_*_{mrcnn,crcnn}_{1x,3x}_9-12-14-7.py):
# AdamW steps after a 500-iteration linear warm-up, at epochs 8 and 11 of 12
# (1x) or 27 and 33 of 36 (3x). Prefixed names: this piece sits beside mmdet
# bases; configs read it through `_base_.agent_swin_{1x,3x}`.
warmup = dict(
    type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500)
agent_swin_1x = dict(max_epochs=12, param_scheduler=[warmup, dict(
    type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
    gamma=0.1)])
agent_swin_3x = dict(max_epochs=36, param_scheduler=[warmup, dict(
    type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33],
    gamma=0.1)])
del warmup
