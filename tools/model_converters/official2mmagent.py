# Copyright (c) mmagent contributors. All rights reserved.
"""Convert an official Agent-Attention checkpoint into an mmagent one: a
downstream checkpoint (mmdet 2.25 / mmseg 0.28) for the mmdet 3.x / mmseg
1.x configs, or an ImageNet classifier (``{'model': ...}``) for the
mmpretrain configs of ``configs/cls`` (``head.*`` -> ``head.fc.*``, the rest
under ``backbone.``, the ImageNet class names in ``meta.dataset_meta``).

No downstream weight is renamed (the official names are mmagent's and mmdet
3.x / mmseg 1.x kept the heads' names; see ``mmagent.utils.convert`` and,
for ImageNet classifiers, ``mmagent.tasks.cls``); every
key a rule changes is listed. The optimizer state and the old stack's pickled
objects are dropped and the class names move to ``meta.dataset_meta``. With
``--config`` the result is loaded into that config's model with
``strict=True`` before it is written.

    python tools/model_converters/official2mmagent.py \
        agent_pvt_t_mrcnn_1x.pth work_dirs/agent_pvt_t_mrcnn_1x_mmagent.pth \
        --config configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py
"""
import argparse
import os
import os.path as osp

import torch

import mmagent  # noqa: F401
from mmagent.apis import check_fits_config, convert_checkpoint
from mmagent.utils import CheckpointLoadError, load_checkpoint_file
from mmagent.utils.checkpoint import TrustCheckpointAction


def convert(src, dst, config=None):
    ckpt = load_checkpoint_file(src)
    new_ckpt, renamed = convert_checkpoint(ckpt, src)
    if config:
        check_fits_config(new_ckpt['state_dict'], config)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(new_ckpt, dst)
    return new_ckpt['state_dict'], renamed


def main():
    parser = argparse.ArgumentParser(
        description='Convert an official Agent-Attention checkpoint (mmdet '
        '2.x / mmseg 0.x, or ImageNet) for mmagent configs')
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='output path')
    parser.add_argument('--config', help='mmagent config to verify against '
                        '(strict loading)')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    args = parser.parse_args()
    try:
        state_dict, renamed = convert(args.src, args.dst, args.config)
    except CheckpointLoadError as e:
        raise SystemExit(f'error: {e}')
    dropped = [old for old, new in renamed if new is None]
    print(f'{len(state_dict)} tensors, {len(renamed) - len(dropped)} keys '
          f'renamed, {len(dropped)} dropped')
    for old, new in renamed:
        print(f'  {old} -> {new or "(dropped: never used by the model)"}')
    if args.config:
        print(f'loads into {args.config} with strict=True')
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
