# FLatten-PVT classifiers (FLatten-Transformer cfgs/flatten_pvt_*.yaml):
# PVT v1 with focused linear attention in every stage, global ('1111'), the
# classifier's features the mean of the stage-4 tokens (the official final
# norm is never applied; the converter drops it). Everything but the
# backbone is the Agent-PVT classifier's (same code base): its schedule,
# clipping and weight decay (attn.scale, attn.positional_encoding and
# pos_embed{i} decayed, as officially).
_base_ = ['./agent-pvt_in1k.py', '../../_base_/flatten.py']

model = dict(backbone=dict(
    _base_.flatten_cls_backbone, type='FLattenPVT', arch='t',
    attn_type='LLLL', la_sr_ratios='1111', drop_path_rate=0.1,
    init_cfg=None))
