# Copyright (c) mmagent contributors. All rights reserved.
"""Official Agent-Attention downstream checkpoints (mmdet 2.25 / mmseg 0.28)
to mmagent (mmdet 3.x / mmseg 1.x) checkpoints.

The official backbones use mmagent's parameter names, and mmdet 3.x / mmseg
1.x kept the 2.x / 0.x names of every neck and head these configs use, so no
weight is renamed: :data:`KEY_RULES` is empty for them, and every key a rule
would change is reported. What changes is the container: the optimizer
state is dropped, ``meta`` (mmcv config text, class names) becomes
``meta.dataset_meta`` / ``meta.official_meta``, and pickled objects of the
old stack are not carried over.
"""
import re
from collections import OrderedDict
from typing import Mapping

from .checkpoint import extract_state_dict

# (pattern, replacement) applied in order to every key. mmdet 2.25 -> 3.x
# and mmseg 0.28 -> 1.x renamed none of the modules of the Agent configs.
KEY_RULES = []


def convert_state_dict(state_dict):
    """Apply KEY_RULES; returns the new state dict and the renamed keys."""
    converted, renamed = OrderedDict(), []
    for key, value in state_dict.items():
        new_key = key
        for pattern, replacement in KEY_RULES:
            new_key = re.sub(pattern, replacement, new_key)
        if new_key != key:
            renamed.append((key, new_key))
        converted[new_key] = value
    return converted, renamed


def convert_meta(meta):
    """Keep what is plain data; classes go where mmengine expects them."""
    meta = dict(meta or {})
    official = {k: v for k, v in meta.items()
                if isinstance(v, (str, int, float, list, tuple, dict))}
    classes = meta.get('CLASSES') or meta.get('classes')
    new_meta = dict(official_meta=official, converted_by='mmagent')
    if classes:
        new_meta['dataset_meta'] = dict(classes=tuple(classes))
        if meta.get('PALETTE'):
            new_meta['dataset_meta']['palette'] = [
                tuple(c) for c in meta['PALETTE']]
    return new_meta


def checkpoint_kind(ckpt: Mapping) -> str:
    """``'official-imagenet'`` (``{'model': ...}``: a backbone only),
    ``'official-downstream'`` (mmdet 2.x / mmseg 0.x: ``meta`` with
    ``CLASSES`` or an old version), or ``'mmagent'`` (anything else with a
    ``state_dict``, or a bare state dict)."""
    if 'model' in ckpt and 'state_dict' not in ckpt:
        return 'official-imagenet'
    meta = ckpt.get('meta')
    if isinstance(meta, Mapping) and 'dataset_meta' not in meta:
        old_det = str(meta.get('mmdet_version', '3')).startswith('2.')
        old_seg = str(meta.get('mmseg_version', '1')).startswith('0.')
        if old_det or old_seg or 'CLASSES' in meta:
            return 'official-downstream'
    return 'mmagent'


def last_stage_norm(state_dict) -> str:
    """Our name of the official final ``norm`` of a multi-stage classifier:
    the output norm of the last stage (``norm3``), which the classifier
    config selects with ``out_indices=(3, )``. Swin numbers its stages
    ``layers.{i}`` from 0, CSwin ``stage{i}`` from 1; DeiT has one stage
    and keeps ``norm``."""
    stages = set()
    for key in state_dict:
        match = re.match(r'layers\.(\d+)\.|stage(\d+)\.', key)
        if match:
            stages.add(int(match.group(1)) if match.group(1) is not None
                       else int(match.group(2)) - 1)
    return f'norm{max(stages)}' if stages else 'norm'


def imagenet_to_classifier(state_dict):
    """Official classifier names -> mmpretrain ``ImageClassifier``: the
    linear ``head.*`` becomes ``head.fc.*``, every other weight goes under
    ``backbone.``, the final ``norm`` of a multi-stage model becomes the
    last stage's output norm (:func:`last_stage_norm`); the shift-mask
    buffers (``attn_mask``) are dropped, the backbone recomputes them, and
    so is PVT v1's final norm, which the official forward never applies.
    Returns the new state dict and the renames (``(key, None)`` for a
    dropped weight)."""
    converted, renamed = OrderedDict(), []
    final_norm = last_stage_norm(state_dict)
    # PVT v1 (FLatten-PVT) keeps a final norm its forward never applies
    # (the official line is commented out); Agent-PVT has none.
    pvt_v1 = 'pos_embed1' in state_dict
    for key, value in state_dict.items():
        if key.endswith('attn_mask'):
            continue
        if pvt_v1 and key.startswith('norm.'):
            renamed.append((key, None))
            continue
        if key.startswith('head.'):
            new_key = 'head.fc.' + key[len('head.'):]
        elif key.startswith('norm.'):
            new_key = f'backbone.{final_norm}.' + key[len('norm.'):]
        else:
            new_key = 'backbone.' + key
        renamed.append((key, new_key))
        converted[new_key] = value
    return converted, renamed


def imagenet_meta() -> dict:
    """``meta`` of a converted ImageNet classifier: the 1000 class names."""
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    return dict(dataset_meta=dict(classes=tuple(IMAGENET_CATEGORIES)),
                converted_by='mmagent')


def convert_checkpoint(ckpt: Mapping, filename: str = '<checkpoint>'):
    """Returns ``(new_checkpoint, renamed_keys)``. Official ImageNet
    checkpoints (``{'model': ...}``) become mmpretrain classifier
    checkpoints, official mmdet 2.x / mmseg 0.x ones keep their keys."""
    # whole-model checkpoint: no 'backbone.' stripping
    state_dict = extract_state_dict(ckpt, filename, prefix='')
    if checkpoint_kind(ckpt) == 'official-imagenet':
        state_dict, renamed = imagenet_to_classifier(state_dict)
        return dict(meta=imagenet_meta(), state_dict=state_dict), renamed
    state_dict, renamed = convert_state_dict(state_dict)
    meta = convert_meta(ckpt.get('meta'))
    return dict(meta=meta, state_dict=state_dict), renamed
