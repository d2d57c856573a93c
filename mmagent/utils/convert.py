# Copyright (c) mmagent contributors. All rights reserved.
"""Official Agent-Attention downstream checkpoints (mmdet 2.25 / mmseg 0.28)
to mmagent (mmdet 3.x / mmseg 1.x) checkpoints.

The official backbones use mmagent's parameter names, and mmdet 3.x / mmseg
1.x kept the 2.x / 0.x names of every neck and head these configs use, so no
weight is renamed. What changes is the container: the optimizer
state is dropped, ``meta`` (mmcv config text, class names) becomes
``meta.dataset_meta`` / ``meta.official_meta``, and pickled objects of the
old stack are not carried over. (Official ImageNet classifiers become
mmpretrain classifiers in :mod:`mmagent.tasks.cls`.)
"""
from typing import Mapping

from .checkpoint import extract_state_dict


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


def convert_downstream_checkpoint(ckpt: Mapping,
                                  filename: str = '<checkpoint>'):
    """An official mmdet 2.x / mmseg 0.x checkpoint (or an mmagent one) as
    an mmagent checkpoint: ``(new_checkpoint, renamed_keys)``. Official
    ImageNet classifiers are the classification task's
    (:func:`mmagent.apis.convert_checkpoint` picks)."""
    # whole-model checkpoint: no 'backbone.' stripping
    state_dict = extract_state_dict(ckpt, filename, prefix='')
    meta = convert_meta(ckpt.get('meta'))
    return dict(meta=meta, state_dict=state_dict), []  # nothing renamed
