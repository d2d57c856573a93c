# FLatten-Swin classifiers (FLatten-Transformer cfgs/flatten_swin_*.yaml):
# focused linear attention in stages 1-2 (global; the official
# window_size=56 makes them global at 224), 7x7 shifted-window softmax in
# stages 3-4, the last stage out through its norm (the official final
# norm), then average pooling; a 7x7 last stage is not shifted
# (pad_small_map=False), as in the official classifier. Everything but the
# backbone is the Agent-Swin classifier's (main.py's schedule: 20 warm-up
# epochs, clipping at 5.0).
_base_ = ['./agent-swin_in1k.py', '../../_base_/flatten.py']

model = dict(backbone=dict(
    _base_.flatten_cls_backbone, type='FLattenSwinTransformer', arch='t',
    attn_type='LLSS', window_size=56, drop_path_rate=0.2,
    pad_small_map=False, init_cfg=None))
