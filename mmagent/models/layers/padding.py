# Copyright (c) mmagent contributors. All rights reserved.
"""Batches of images of different sizes, padded right/bottom to one size
(mmdet's and mmseg's data preprocessors do this).

A backbone told each image's own size (``valid_sizes``: one ``(h, w)`` per
image, in pixels, top-left aligned) works out each image's token region at
every stage; attention kinds that support it (``masks_padding = True``)
then keep the padded tokens out of their sums, so an image's features do
not depend on what else is in its batch. The sizes are the data samples'
``img_shape`` (their metainfo, mmdet's and mmseg's way): the detectors and
segmentors of :mod:`mmagent.models.dense` pass them to the backbone.
"""
from typing import Optional, Sequence, Tuple

import torch

# the per-image region helpers live with the attention kinds that use them
from .attention.common import (padded_sizes, per_image_token_map,  # noqa
                               token_mask)

Size = Tuple[int, int]
__all__ = [
    'padded_sizes', 'token_mask', 'zero_padding', 'zero_outside_images',
    'next_stage_sizes', 'per_image_token_map'
]


def zero_padding(x: torch.Tensor, hw_shape: Sequence[int],
                 valid_hw: Optional[Sequence[Size]]) -> torch.Tensor:
    """``(B, H*W, C)`` tokens with the padded ones set to 0 (even inf or
    NaN ones), as the zero padding a convolution sees at the border of an
    image alone."""
    if valid_hw is None:
        return x
    mask = token_mask(valid_hw, hw_shape, x.device)
    return x.masked_fill(~mask[..., None], 0)


def zero_outside_images(x: torch.Tensor,
                        sizes: Optional[Sequence[Size]]) -> torch.Tensor:
    """A ``(B, C, H, W)`` image batch with everything outside each image's
    ``(h, w)`` set to 0 (mmdet's and mmseg's padding value), so padding
    patches and overlapping convs see what they see around an image
    alone."""
    sizes = padded_sizes(sizes, x.shape[-2:])
    if sizes is None:
        return x
    mask = token_mask(sizes, x.shape[-2:], x.device)
    return x.masked_fill(~mask.view(x.shape[0], 1, *x.shape[-2:]), 0)


def next_stage_sizes(sizes: Optional[Sequence[Size]], patch_embed,
                     hw_shape: Sequence[int]):
    """Each image's token region after ``patch_embed`` (its
    ``output_size``) from its region before: ``(sizes, valid_hw)``, where
    ``valid_hw`` is ``None`` when no image of the batch is padded."""
    if sizes is None:
        return None, None
    sizes = [patch_embed.output_size(s) for s in sizes]
    return sizes, padded_sizes(sizes, hw_shape)
