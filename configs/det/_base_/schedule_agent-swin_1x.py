# The Swin 1x schedule of the official agent_swin_*_{mrcnn,crcnn}_1x configs
# (downstream/detection configs/agent_swin/): 12 epochs, 500-iter linear
# warm-up, steps at epochs 8 and 11. Prefixed name: this piece sits beside a
# 3x base; 1x leaves read it through `_base_.agent_swin_1x`.
agent_swin_1x = dict(
    max_epochs=12,
    param_scheduler=[
        dict(
            type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
            end=500),
        dict(
            type='MultiStepLR',
            begin=0,
            end=12,
            by_epoch=True,
            milestones=[8, 11],
            gamma=0.1)
    ])
