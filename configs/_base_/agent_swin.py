# Agent-Swin pieces shared by the det and seg bases, from the official recipe
# (downstream/{detection,segmentation} configs/agent_swin/*_9-12-14-7.py).
# The names are prefixed as they sit beside mmdet/mmseg bases; read them
# through `_base_.` (leaves set arch, drop_path_rate and checkpoint).
agent_swin_backbone = dict(
    type='AgentSwinTransformer',
    arch='t',  # 96, depths 2/2/6/2, heads 3/6/12/24, attn_type 'AAAB'
    window_size=56,  # agent blocks are global; window blocks use 7
    downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
    drop_path_rate=0.1,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(
        type='Pretrained',
        checkpoint='data/pretrained/agent_swin_t_max_acc.pth'))

# No weight decay on norms, relative position bias and agent biases. No
# 'absolute_pos_embed' (Swin's): AgentSwinTransformer rejects ape=True.
# (`no_decay` keeps the name the Agent-Swin configs have always carried.)
no_decay = dict(decay_mult=0.)
agent_swin_no_decay = {
    'relative_position_bias_table': no_decay,
    'norm': no_decay,
    'an_bias': no_decay,
    'na_bias': no_decay,
    'ah_bias': no_decay,
    'aw_bias': no_decay,
    'ha_bias': no_decay,
    'wa_bias': no_decay,
}
