# Copyright (c) mmagent contributors. All rights reserved.
"""Deterministic synthetic datasets for the embedded demos and the tests.

* :func:`write_shapes_coco`: COCO-format instance segmentation of shapes
  (circle, square, triangle, cross) with varied size, colour and texture, on
  textured backgrounds with clutter, overlapping each other. Occluded parts
  are removed from the masks; masks are stored as polygons.
* :func:`write_scenes_ade20k`: ADE20K-format semantic segmentation (JPEG
  images, PNG labels with 0 = "other"/ignore before ``reduce_zero_label``)
  of textured regions ("stuff") and shapes ("things").

Both draw with a seeded ``numpy`` generator, so a seed gives the same files
on every machine.
"""
import colorsys
import json
import math
import os
import os.path as osp

import cv2
import numpy as np

SHAPE_CLASSES = ('circle', 'square', 'triangle', 'cross')
MIN_VISIBLE_AREA = 60  # px; fully hidden objects are dropped


def textured_background(rng, size):
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, size=3)
    freq = rng.uniform(0.02, 0.15, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    wave = np.sin(xx * freq[0] + phase[0]) * np.cos(yy * freq[1] + phase[1])
    img = base[None, None] + 25 * wave[..., None]
    img += rng.normal(0, 12, size=(h, w, 3))
    return img


def draw_clutter(rng, img):
    """Unannotated distractors: thin lines and small dots."""
    h, w = img.shape[:2]
    for _ in range(rng.integers(2, 7)):
        p1 = tuple(int(v) for v in rng.integers(0, (w, h)))
        p2 = tuple(int(v) for v in rng.integers(0, (w, h)))
        cv2.line(img, p1, p2, rng.uniform(0, 255, 3).tolist(),
                 int(rng.integers(1, 3)))
    for _ in range(rng.integers(3, 10)):
        c = tuple(int(v) for v in rng.integers(0, (w, h)))
        cv2.circle(img, c, int(rng.integers(1, 4)),
                   rng.uniform(0, 255, 3).tolist(), -1)


def shape_polygon(rng, label, center, size):
    """Outline of a shape as an (N, 2) float array."""
    cx, cy = center
    angle = rng.uniform(0, 2 * math.pi)
    if label == 'circle':
        t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1) * size / 2
        return pts + (cx, cy)
    if label == 'square':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * size / 2
    elif label == 'triangle':
        t = np.array([0, 2 * math.pi / 3, 4 * math.pi / 3]) - math.pi / 2
        pts = np.stack([np.cos(t), np.sin(t)], 1) * size * 0.6
    elif label == 'star':
        t = np.arange(10) * math.pi / 5
        radius = np.where(np.arange(10) % 2 == 0, 0.6, 0.26) * size
        pts = np.stack([np.cos(t), np.sin(t)], 1) * radius[:, None]
    else:  # cross
        a, b = 1.0, 0.33
        pts = np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b],
                        [b, a], [-b, a], [-b, b], [-a, b], [-a, -b],
                        [-b, -b]]) * size / 2
    rot = np.array([[math.cos(angle), -math.sin(angle)],
                    [math.sin(angle), math.cos(angle)]])
    return pts @ rot.T + (cx, cy)


# Each shape class has its own fill family and hue range (the fill's
# parameters, the hue within the range, saturation, brightness and the
# second colour are random). A transformer trained from scratch picks up
# colour and texture within minutes but outlines only after far more data
# than a CPU demo can show it, so geometry alone would leave the demos'
# classifiers near chance; the masks and boxes still have to be found from
# the outlines.
SHAPE_FILLS = dict(circle='stripes', square='flat', triangle='gradient',
                   cross='checker', star='hatch', ring='speckle')
SHAPE_HUES = dict(circle=0, square=220, triangle=50, cross=120, star=280,
                  ring=170)  # degrees, +-25 per instance


def class_colour(rng, label):
    """An RGB colour (0-255 floats) in the hue range of ``label``."""
    hue = (SHAPE_HUES[label] + rng.uniform(-25, 25)) % 360 / 360
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1), rng.uniform(0.55, 1))
    return np.array(rgb) * 255


def paint_shape(rng, img, mask, label):
    """Fill ``mask`` with the fill family and a colour of ``label``."""
    h, w = img.shape[:2]
    colour, other = class_colour(rng, label), rng.uniform(0, 255, 3)
    while np.abs(colour - other).sum() < 150:  # keep the pattern visible
        other = rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    style = SHAPE_FILLS[label]
    if style == 'flat':
        t = np.zeros((h, w), np.float32)
    elif style == 'stripes':
        t = (np.sin(along * 2 * np.pi / rng.uniform(8, 14)) > 0)
    elif style == 'gradient':
        t = (along - along[mask].min()) / max(np.ptp(along[mask]), 1)
    elif style == 'checker':
        cell = rng.uniform(5, 8)
        t = ((xx // cell + yy // cell) % 2 == 0)
    elif style == 'hatch':
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        period = rng.uniform(8, 12)
        t = ((along % period) < 3) | ((across % period) < 3)
    else:  # speckle
        t = rng.random((h, w)) < 0.35
    t = np.asarray(t, np.float32)[..., None]
    fill = colour * (1 - t) + other * t
    img[mask] = fill[mask]


def make_shapes_image(rng, size, max_objects):
    img = textured_background(rng, size)
    draw_clutter(rng, img)
    h, w = size
    objects = []
    for _ in range(rng.integers(1, max_objects + 1)):
        label = SHAPE_CLASSES[rng.integers(len(SHAPE_CLASSES))]
        obj_size = rng.uniform(0.18, 0.5) * min(h, w)
        margin = obj_size * 0.3
        center = rng.uniform(margin, (w - margin, h - margin))
        poly = shape_polygon(rng, label, center, obj_size)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        mask = mask.astype(bool)
        if mask.sum() < MIN_VISIBLE_AREA:
            continue
        paint_shape(rng, img, mask, label)
        for other in objects:  # the new shape hides what it covers
            other['mask'] &= ~mask
        objects.append(dict(label=label, mask=mask))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img, [o for o in objects if o['mask'].sum() >= MIN_VISIBLE_AREA]


def mask_to_annotation(mask):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    polygons = [c.reshape(-1).astype(float).tolist() for c in contours
                if len(c) >= 3]
    ys, xs = np.nonzero(mask)
    x0, y0 = float(xs.min()), float(ys.min())
    bbox = [x0, y0, float(xs.max()) - x0 + 1, float(ys.max()) - y0 + 1]
    return polygons, bbox, float(mask.sum())


def write_coco_split(out_dir, split, num_images, size, seed, max_objects):
    rng = np.random.default_rng(seed)
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        img, objects = make_shapes_image(rng, size, max_objects)
        name = f'{split}_{image_id:05d}.png'
        cv2.imwrite(osp.join(img_dir, name), img[..., ::-1])
        images.append(dict(id=image_id, file_name=name, height=size[0],
                           width=size[1]))
        for obj in objects:
            polygons, bbox, area = mask_to_annotation(obj['mask'])
            if not polygons:
                continue
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=SHAPE_CLASSES.index(obj['label']) + 1,
                segmentation=polygons, bbox=bbox, area=area, iscrowd=0))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n, supercategory='shape')
                            for i, n in enumerate(SHAPE_CLASSES)])
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    with open(osp.join(out_dir, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(coco, f)
    return len(images), len(annotations)


def write_shapes_coco(out_dir, num_train=320, num_val=160, size=(128, 128),
                      max_objects=4, seed=0):
    """Write ``train/``, ``val/`` and ``annotations/instances_*.json``.

    Returns:
        dict: ``{split: (num_images, num_instances)}``.
    """
    return {
        split: write_coco_split(out_dir, split, count, tuple(size),
                                seed + offset, max_objects)
        for offset, (split, count) in enumerate((('train', num_train),
                                                 ('val', num_val)))
    }


# --------------------------------------------------------------------------
# ADE20K-format scenes: label 0 is "other" (ignored after reduce_zero_label),
# 1..7 are textured regions, 8..13 are shapes painted like the COCO demo's.
STUFF_CLASSES = ('sky', 'grass', 'water', 'sand', 'brick', 'wood', 'road')
THING_CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'ring')
SCENE_CLASSES = STUFF_CLASSES + THING_CLASSES
SCENE_PALETTE = [(135, 206, 235), (60, 160, 60), (30, 80, 200),
                 (230, 200, 140), (180, 60, 40), (130, 80, 30),
                 (90, 90, 90), (220, 20, 60), (0, 130, 230), (250, 170, 30),
                 (150, 50, 200), (255, 105, 180), (0, 200, 200)]


def stuff_texture(rng, name, size):
    """A class-specific pattern with a jittered colour, as float RGB."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    jitter = rng.uniform(-20, 20, 3)

    def colour(rgb):
        return np.clip(np.array(rgb, np.float32) + jitter, 0, 255)

    if name == 'sky':  # smooth vertical gradient
        t = (yy / h)[..., None]
        img = colour((110, 170, 240)) * (1 - t) + colour((220, 235, 250)) * t
    elif name == 'grass':  # green, strong fine noise
        img = colour((60, 150, 50)) + rng.normal(0, 28, (h, w, 1)) * \
            np.array([0.5, 1.0, 0.4])
    elif name == 'water':  # horizontal waves
        period = rng.uniform(5, 9)
        wave = np.sin(yy * 2 * np.pi / period + 0.6 * np.sin(xx / 7))
        img = colour((40, 90, 190)) + 35 * wave[..., None]
    elif name == 'sand':  # flat beige with speckle
        img = colour((215, 190, 140)) + rng.normal(0, 10, (h, w, 3))
    elif name == 'brick':  # staggered bricks with light mortar
        bh, bw = 6, 14
        row = (yy // bh).astype(int)
        shifted = xx + (row % 2) * bw / 2
        mortar = ((yy % bh) < 1.2) | ((shifted % bw) < 1.2)
        img = np.where(mortar[..., None], colour((200, 195, 185)),
                       colour((170, 65, 45)))
    elif name == 'wood':  # wavy vertical grain
        grain = np.sin((xx + 3 * np.sin(yy / 9)) * 2 * np.pi / 4.5)
        img = colour((140, 90, 45)) + 25 * grain[..., None]
    else:  # road: dark grey asphalt with a dashed line
        img = colour((80, 80, 85)) + rng.normal(0, 6, (h, w, 3))
        dash = (np.abs(yy - h * rng.uniform(0.3, 0.7)) < 1.5) & \
            ((xx % 16) < 8)
        img[dash] = (235, 235, 220)
    return np.broadcast_to(img, (h, w, 3)).astype(np.float32)


def stuff_layout(rng, size, num_regions):
    """Region index per pixel: a Voronoi partition with wavy borders."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    seeds = rng.uniform(0, (w, h), size=(num_regions, 2))
    wobble = rng.uniform(3, 8) * np.sin(yy / rng.uniform(6, 14)) + \
        rng.uniform(3, 8) * np.cos(xx / rng.uniform(6, 14))
    dist = ((xx[None] + wobble[None] - seeds[:, 0, None, None])**2 +
            (yy[None] - wobble[None] - seeds[:, 1, None, None])**2)
    return dist.argmin(0)


def thing_mask(rng, label, center, obj_size, size):
    mask = np.zeros(size, np.uint8)
    if label == 'ring':
        c = tuple(int(round(v)) for v in center)
        radius = int(obj_size / 2)
        cv2.circle(mask, c, radius, 1, max(2, radius // 3))
    else:
        poly = shape_polygon(rng, label, center, obj_size)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    return mask.astype(bool)


def make_scene(rng, size, max_things):
    """One image (uint8 RGB) and its label map (uint8, 0 = other)."""
    h, w = size
    regions = stuff_layout(rng, size, int(rng.integers(2, 5)))
    stuff = rng.choice(len(STUFF_CLASSES), regions.max() + 1, replace=False)
    img = np.zeros((h, w, 3), np.float32)
    label = np.zeros((h, w), np.uint8)
    for region, cls in enumerate(stuff):
        inside = regions == region
        img[inside] = stuff_texture(rng, STUFF_CLASSES[cls], size)[inside]
        label[inside] = 1 + cls
    for _ in range(rng.integers(1, max_things + 1)):
        cls = int(rng.integers(len(THING_CLASSES)))
        obj_size = rng.uniform(0.2, 0.45) * min(h, w)
        center = rng.uniform(obj_size * 0.3, (w - obj_size * 0.3,
                                              h - obj_size * 0.3))
        mask = thing_mask(rng, THING_CLASSES[cls], center, obj_size, size)
        paint_shape(rng, img, mask, THING_CLASSES[cls])
        label[mask] = 1 + len(STUFF_CLASSES) + cls
    # Unlabelled clutter: thin lines and dots are "other" (0).
    clutter = np.zeros((h, w, 3), np.float32)
    draw_clutter(rng, clutter)
    drawn = clutter.any(-1)
    img[drawn] = clutter[drawn]
    label[drawn] = 0
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


def write_scenes_ade20k(out_dir, num_train=400, num_val=64, size=(128, 128),
                        max_things=4, seed=0):
    """Write ADE20K's layout: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png``.

    Returns:
        dict: ``{split: num_images}``.
    """
    counts = {}
    for offset, (split, count) in enumerate((('training', num_train),
                                             ('validation', num_val))):
        rng = np.random.default_rng(seed + offset)
        img_dir = osp.join(out_dir, 'images', split)
        ann_dir = osp.join(out_dir, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for index in range(1, count + 1):
            img, label = make_scene(rng, tuple(size), max_things)
            name = f'ADE_{split[:5]}_{index:08d}'
            cv2.imwrite(osp.join(img_dir, name + '.jpg'), img[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, name + '.png'), label)
        counts[split] = count
    return counts
