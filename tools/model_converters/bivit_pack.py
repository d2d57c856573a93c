# Copyright (c) mmagent contributors. All rights reserved.
"""Store a BiViT-binarized checkpoint in 1 bit per binary weight, or
rebuild a loadable checkpoint from the packed file.

    python tools/model_converters/bivit_pack.py pack work_dirs/x/epoch_300.pth \
        bivit_swin_t.packed.pth
    python tools/model_converters/bivit_pack.py unpack bivit_swin_t.packed.pth \
        bivit_swin_t.pth --config CONFIG

``pack`` keeps, for every binary layer in use, the signs of
``W - rowmean(W)`` as bits plus its full-precision ``alpha`` and bias, and
everything else as it is (optimizer state dropped); it prints what each
part weighs. ``unpack`` writes an mmengine checkpoint whose model gives the
same outputs (with ``--config``: loaded into that config's model with
``strict=True`` first). See :mod:`mmagent.utils.bitpack`.
"""
import argparse
import os
import os.path as osp

import torch

import mmagent  # noqa: F401
from mmagent.apis import check_fits_config
from mmagent.utils import CheckpointLoadError, load_checkpoint_file
from mmagent.utils.bitpack import (pack_state_dict, packed_sizes,
                                   unpack_state_dict)
from mmagent.utils.checkpoint import TrustCheckpointAction

MB = 2**20


def state_dict_of(ckpt):
    return ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt


def pack(src, dst):
    ckpt = load_checkpoint_file(src)
    state_dict = state_dict_of(ckpt)
    packed = pack_state_dict(state_dict)
    if isinstance(ckpt, dict) and 'meta' in ckpt:
        packed['meta'] = ckpt['meta']
    fp_binary, packed_binary, total, packed_total = packed_sizes(state_dict)
    save(packed, dst)
    layers = len(packed['binary_weights'])
    print(f'{layers} binary layers (weight + alpha): '
          f'{fp_binary / MB:.2f} MB in fp32 -> {packed_binary / MB:.2f} MB '
          f'packed ({fp_binary / packed_binary:.1f}x smaller)')
    print(f'whole model (all tensors of the state dict): '
          f'{total / MB:.2f} MB -> {packed_total / MB:.2f} MB; '
          f'file {osp.getsize(dst) / MB:.2f} MB')


def unpack(src, dst, config=None):
    packed = load_checkpoint_file(src)
    state_dict = unpack_state_dict(packed)
    if config:
        check_fits_config(state_dict, config)
    ckpt = dict(state_dict=state_dict)
    if 'meta' in packed:
        ckpt['meta'] = packed['meta']
    save(ckpt, dst)
    print(f'unpacked {len(packed["binary_weights"])} binary layers into '
          f'{dst}')


def save(obj, dst):
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(obj, dst)


def main():
    parser = argparse.ArgumentParser(
        description='Pack a BiViT checkpoint to 1-bit weights, or unpack it')
    parser.add_argument('command', choices=['pack', 'unpack'])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--config', help='(unpack) config whose model must '
                        'load the result with strict=True')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    args = parser.parse_args()
    try:
        if args.command == 'pack':
            pack(args.src, args.dst)
        else:
            unpack(args.src, args.dst, args.config)
    except (CheckpointLoadError, ValueError) as e:
        raise SystemExit(f'error: {e}')


if __name__ == '__main__':
    main()
