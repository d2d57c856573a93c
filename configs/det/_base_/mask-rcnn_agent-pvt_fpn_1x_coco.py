# Agent-PVT + Mask R-CNN 1x, the official recipe (downstream/detection
# configs/agent_pvt/agent_pvt_*_mrcnn_1x_12-16-28-28.py) on mmdet 3.x.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentPVT',
        arch='t',  # embed dims 64/128/320/512, heads 1/2/5/8, agents 9/16/49/49
        downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)],
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # official ImageNet weights (`max_acc.pth` of agent_pvt_t), see README
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/agent_pvt_t_max_acc.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))

# AdamW without paramwise rules: norms, pos_embed and agent biases decay too.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=2e-4,
        betas=(0.9, 0.999),
        weight_decay=1e-4))

train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=16)  # 8 GPUs x 2 images
