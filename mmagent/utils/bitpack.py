# Copyright (c) mmagent contributors. All rights reserved.
"""1-bit storage of BiViT-binarized weights.

A binary layer (``BinaryLinear``: keys ``P.weight``, ``P.alpha``,
``P.alpha_initialized``, ``P.binary_enabled``) computes with
``alpha * sign(W - rowmean(W))``, so for inference only the signs matter:
:func:`pack_state_dict` stores them as bits (8 per byte, row by row) beside
the full-precision ``alpha`` and bias, and :func:`unpack_state_dict`
rebuilds a state dict whose ``P.weight`` is the ±1 sign matrix ``S``. The
model computes the same binary weight from it, so outputs are identical:
every row of ``S`` holds a +1 (a centred row cannot be all negative), its
mean lies in (-1, 1], and subtracting it keeps each sign (an all +1 row
gives zeros, which the layer's sign maps to +1). The latent
full-precision weights that training updates are not kept: pack for
inference, resume training from the full checkpoint. Everything else
(norms, biases, embeddings, heads, layers not binary yet) stays as it is.
"""
from typing import Dict, Tuple

import numpy as np
import torch

FORMAT = 'mmagent-bitpack-v1'


def binary_layers(state_dict: Dict[str, torch.Tensor]) -> list:
    """Prefixes of the binary layers whose binary weights are in use
    (enabled, ``alpha`` initialised)."""
    layers = []
    for key in state_dict:
        if not key.endswith('.binary_enabled'):
            continue
        prefix = key[:-len('.binary_enabled')]
        if bool(state_dict[key]) and bool(
                state_dict.get(f'{prefix}.alpha_initialized', False)):
            layers.append(prefix)
    return layers


def weight_signs(weight: torch.Tensor) -> torch.Tensor:
    """``sign(W - rowmean(W))`` in {-1, +1} (0 -> +1), as the layer."""
    centred = weight.float() - weight.float().mean(dim=1, keepdim=True)
    return torch.where(centred >= 0, 1., -1.)


def pack_state_dict(state_dict: Dict[str, torch.Tensor]) -> dict:
    """The packed form of a model state dict (see the module)."""
    layers = binary_layers(state_dict)
    if not layers:
        raise ValueError(
            'no binary layer in use in this state dict (keys ending in '
            '.binary_enabled set, with .alpha_initialized): pack a model '
            "trained with type='BiViT' after its first forward")
    packed, rest = {}, dict(state_dict)
    for prefix in layers:
        weight = rest.pop(f'{prefix}.weight')
        signs = weight_signs(weight).numpy() > 0
        packed[prefix] = dict(
            bits=torch.from_numpy(np.packbits(signs, axis=1)),
            shape=list(weight.shape), dtype=str(weight.dtype))
    return dict(format=FORMAT, state_dict=rest, binary_weights=packed)


def unpack_state_dict(packed: dict) -> Dict[str, torch.Tensor]:
    """The state dict of :func:`pack_state_dict`'s input, with each binary
    layer's weight replaced by its ±1 signs."""
    found = packed.get('format') if isinstance(packed, dict) else None
    if found != FORMAT:
        raise ValueError(f'not a {FORMAT} checkpoint (format: {found!r})')
    state_dict = dict(packed['state_dict'])
    for prefix, entry in packed['binary_weights'].items():
        rows, cols = entry['shape']
        bits = np.unpackbits(entry['bits'].numpy(), axis=1, count=cols)
        signs = torch.from_numpy(bits.astype(np.float32) * 2 - 1)
        dtype = getattr(torch, entry['dtype'].replace('torch.', ''))
        state_dict[f'{prefix}.weight'] = signs.reshape(rows, cols).to(dtype)
    return state_dict


def packed_sizes(
        state_dict: Dict[str, torch.Tensor]) -> Tuple[int, int, int, int]:
    """Bytes of ``(binary layers in fp32, the same packed, the whole model
    in its dtypes, the whole model packed)``. A binary layer counts its
    weight and ``alpha`` (bias and buffers are in the totals only)."""
    layers = set(binary_layers(state_dict))
    fp_binary = packed_binary = total = 0
    for key, value in state_dict.items():
        size = value.numel() * value.element_size()
        total += size
        prefix, _, name = key.rpartition('.')
        if prefix in layers and name == 'weight':
            rows, cols = value.shape
            fp_binary += value.numel() * 4
            packed_binary += rows * ((cols + 7) // 8)
        elif prefix in layers and name == 'alpha':
            fp_binary += size
            packed_binary += size
    packed_total = total - sum(
        state_dict[f'{p}.weight'].numel() *
        state_dict[f'{p}.weight'].element_size()
        for p in layers) + sum(
            state_dict[f'{p}.weight'].shape[0] *
            ((state_dict[f'{p}.weight'].shape[1] + 7) // 8) for p in layers)
    return fp_binary, packed_binary, total, packed_total
