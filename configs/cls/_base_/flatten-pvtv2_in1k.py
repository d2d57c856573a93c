# FLatten-PVTv2 classifiers (FLatten-Transformer cfgs/flatten_pvt_v2_*.yaml):
# PVTv2 (overlapping patch embeddings, DWConv MLPs, a norm per stage) with
# focused linear attention in every stage, global ('1111'); the classifier's
# features are the mean of the stage-4 tokens after norm4. Everything but
# the backbone is the PVT classifier's of the same code base (5 warm-up
# epochs from 1e-6, cosine to 1e-5, 10 cool-down epochs; clipping 1.0 for
# B3/B4 in the leaves; attn.scale and attn.positional_encoding decayed).
_base_ = ['./flatten-pvt_in1k.py']

model = dict(backbone=dict(type='FLattenPVTv2', arch='b1'))
