# Agent-Swin + Mask R-CNN, the official recipe (downstream/detection
# configs/agent_swin/agent_swin_*_mrcnn_{1x,3x}_9-12-14-7.py) on mmdet 3.x:
# mmdet's Swin multi-scale + crop pipeline (used for 1x too), AdamW 1e-4,
# wd 0.05 without decay on norms and agent biases, 500-iter warm-up.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentSwinTransformer',
        arch='t',  # 96, depths 2/2/6/2, heads 3/6/12/24, attn_type 'AAAB'
        window_size=56,  # agent blocks are global; window blocks use 7
        downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/agent_swin_t_max_acc.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

no_decay = dict(decay_mult=0.)
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': no_decay,
            'relative_position_bias_table': no_decay,
            'norm': no_decay,
            'an_bias': no_decay,
            'na_bias': no_decay,
            'ah_bias': no_decay,
            'aw_bias': no_decay,
            'ha_bias': no_decay,
            'wa_bias': no_decay,
        }))

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)
