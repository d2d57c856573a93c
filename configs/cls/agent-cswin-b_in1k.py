_base_ = ['./_base_/agent-cswin_in1k.py',
          './_base_/datasets/imagenet_224.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.5),
             head=dict(in_channels=768))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
custom_hooks = [dict(_base_.custom_hooks[0], momentum=1 - 0.99992)]
