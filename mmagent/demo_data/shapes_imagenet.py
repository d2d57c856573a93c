# Copyright (c) mmagent contributors. All rights reserved.
"""The embedded classification demo dataset, in ImageNet's folder layout
(``train/<class>/*.JPEG``, ``val/<class>/*.JPEG``).

Each image holds one large shape, at a random angle and place, on a greyish
textured background crossed by a few grey lines. Its class is the pair
(colour family, outline): 3 hue families x 4 outlines = 12 classes, with
the hue jittered by +-25 degrees and random saturation and brightness. The
colour narrows an image down to 4 classes; only the outline decides among
them, so no class can be told without the shape.

An earlier version drew random colours with three fill patterns (stripes,
checks, plain) as the second factor: a transformer trained from scratch on
CPU stayed at chance on it for minutes, so the demo uses colour, which it
picks up within a hundred steps, and leaves the outline to learn.
"""
import colorsys
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from .synthetic import shape_polygon, textured_background

OUTLINES = ('circle', 'square', 'triangle', 'cross')
HUES = dict(red=0, green=120, blue=230)  # degrees, +-25 per image
# Sorted like the class folders: mmpretrain numbers a folder dataset's
# labels in that order.
CLASSES = tuple(sorted(f'{colour}_{outline}' for colour in HUES
                       for outline in OUTLINES))


def greyish_background(rng, size: Tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` float RGB: a textured background at a quarter of its
    saturation, crossed by up to three grey lines."""
    img = textured_background(rng, size)
    grey = img.mean(2, keepdims=True)
    img = grey + 0.25 * (img - grey)
    h, w = size
    for _ in range(rng.integers(0, 4)):
        p1 = tuple(int(v) for v in rng.integers(0, (w, h)))
        p2 = tuple(int(v) for v in rng.integers(0, (w, h)))
        cv2.line(img, p1, p2, [float(rng.uniform(0, 255))] * 3, 1)
    return img


def make_image(rng, label: str, size: Tuple[int, int]) -> np.ndarray:
    """One uint8 RGB image of class ``label`` (``'<colour>_<outline>'``)."""
    colour, outline = label.split('_')
    h, w = size
    img = greyish_background(rng, size)
    side = rng.uniform(0.55, 0.8) * min(h, w)
    center = np.array((w, h)) * (0.5 + rng.uniform(-0.15, 0.15, 2))
    mask = np.zeros(size, np.uint8)
    poly = shape_polygon(rng, outline, center, side)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    mask = mask.astype(bool)
    hue = (HUES[colour] + rng.uniform(-25, 25)) % 360 / 360
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1), rng.uniform(0.6, 1))
    img[mask] = np.array(rgb) * 255 + rng.normal(0, 8, (mask.sum(), 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_shapes_imagenet(out_dir: str,
                          train_per_class: int = 300,
                          val_per_class: int = 25,
                          size: Sequence[int] = (64, 64),
                          seed: int = 0) -> Dict[str, int]:
    """Write the dataset; returns ``{split: number of images}``. The same
    seed gives the same files on every machine."""
    counts = {}
    for split, per_class, offset in (('train', train_per_class, 0),
                                     ('val', val_per_class, 1)):
        rng = np.random.default_rng([seed, offset])
        for label in CLASSES:
            os.makedirs(osp.join(out_dir, split, label), exist_ok=True)
        for i in range(per_class):
            for label in CLASSES:
                img = make_image(rng, label, tuple(size))
                path = osp.join(out_dir, split, label,
                                f'{label}_{i:04d}.JPEG')
                cv2.imwrite(path, img[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
        counts[split] = per_class * len(CLASSES)
    return counts
