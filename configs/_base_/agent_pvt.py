# The Agent-PVT backbone shared by the det and seg bases, from the official
# recipe (downstream/{detection,segmentation} configs/agent_pvt/
# *_12-16-28-28.py). Prefixed name: it sits beside mmdet/mmseg bases; read
# it through `_base_.` (leaves set arch, drop_path_rate and checkpoint).
agent_pvt_backbone = dict(
    type='AgentPVT',
    arch='t',  # embed dims 64/128/320/512, heads 1/2/5/8, agents 9/16/49/49
    downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)],
    drop_path_rate=0.1, out_indices=(0, 1, 2, 3),
    # official ImageNet weights (`max_acc.pth` of agent_pvt_t), see README
    init_cfg=dict(type='Pretrained',
                  checkpoint='data/pretrained/agent_pvt_t_max_acc.pth'))
