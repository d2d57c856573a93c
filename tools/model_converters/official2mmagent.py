# Copyright (c) mmagent contributors. All rights reserved.
"""Convert an official Agent-Attention downstream checkpoint (mmdet 2.25 /
mmseg 0.28, LeapLabTHU/Agent-Attention) into an mmagent (mmdet 3.x /
mmseg 1.x) checkpoint.

The official backbones use mmagent's parameter names, and mmdet 3.x / mmseg
1.x kept the 2.x / 0.x names of every neck and head these configs use, so no
weight is renamed: the rule table below is empty for them, and every key a
rule would change is listed when one applies. What changes is the
container: the optimizer state is dropped, ``meta`` (mmcv config text, class
names) becomes ``meta.dataset_meta`` / ``meta.official_meta``, and pickled
objects of the old stack are not carried over. With ``--config`` the result
is loaded into that config's model with ``strict=True`` before it is
written.

    python tools/model_converters/official2mmagent.py \
        agent_pvt_t_mrcnn_1x.pth work_dirs/agent_pvt_t_mrcnn_1x_mmagent.pth \
        --config configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py
"""
import argparse
import os
import os.path as osp
import re
from collections import OrderedDict

import torch

import mmagent  # noqa: F401
from mmagent.utils import (CheckpointLoadError, extract_state_dict,
                           load_checkpoint_file)

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


def check_against_config(state_dict, config):
    """Load into the config's model with strict=True (raises on mismatch)."""
    from mmengine.registry import MODELS

    from mmagent.utils.runtime import load_config
    cfg = load_config(config, init_scope=True)
    model = MODELS.build(cfg.model)
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and v.shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f'missing in the checkpoint: {k}' for k in missing[:10]]
        lines += [f'not in the model: {k}' for k in unexpected[:10]]
        lines += [f'{k}: checkpoint {a} vs model {b}'
                  for k, a, b in mismatched[:10]]
        raise CheckpointLoadError(
            f'the converted weights do not fit {config} '
            f'({len(missing)} missing, {len(unexpected)} unexpected, '
            f'{len(mismatched)} mismatched):\n  ' + '\n  '.join(lines))
    model.load_state_dict(state_dict, strict=True)


def convert(src, dst, config=None):
    ckpt = load_checkpoint_file(src)
    # whole-model checkpoint: no 'backbone.' stripping
    state_dict = extract_state_dict(ckpt, src, prefix='')
    state_dict, renamed = convert_state_dict(state_dict)
    if config:
        check_against_config(state_dict, config)
    meta = convert_meta(ckpt.get('meta') if isinstance(ckpt, dict) else None)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state_dict), dst)
    return state_dict, renamed


def main():
    parser = argparse.ArgumentParser(
        description='Convert an official Agent-Attention mmdet 2.x / mmseg '
        '0.x checkpoint for mmagent configs')
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--config', help='mmagent config to verify against '
                        '(strict loading)')
    args = parser.parse_args()
    try:
        state_dict, renamed = convert(args.src, args.dst, args.config)
    except CheckpointLoadError as e:
        raise SystemExit(f'error: {e}')
    print(f'{len(state_dict)} tensors, {len(renamed)} keys renamed')
    for old, new in renamed:
        print(f'  {old} -> {new}')
    if args.config:
        print(f'loads into {args.config} with strict=True')
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
