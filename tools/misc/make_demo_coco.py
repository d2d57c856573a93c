# Copyright (c) mmagent contributors. All rights reserved.
"""Generate the embedded demo dataset: a deterministic, COCO-format instance
segmentation set of shapes (circle, square, triangle, cross) with varied size,
colour and texture, on textured backgrounds with clutter, overlapping each
other. Occluded parts are removed from the masks; masks are stored as
polygons.

    python tools/misc/make_demo_coco.py data/demo_coco --train 320 --val 64
"""
import argparse
import json
import math
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('circle', 'square', 'triangle', 'cross')
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
    else:  # cross
        a, b = 1.0, 0.33
        pts = np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b],
                        [b, a], [-b, a], [-b, b], [-a, b], [-a, -b],
                        [-b, -b]]) * size / 2
    rot = np.array([[math.cos(angle), -math.sin(angle)],
                    [math.sin(angle), math.cos(angle)]])
    return pts @ rot.T + (cx, cy)


def paint_shape(rng, img, mask):
    """Fill with a flat colour, a stripe texture or a two-colour blend."""
    h, w = img.shape[:2]
    colour = rng.uniform(0, 255, 3)
    style = rng.integers(0, 3)
    if style == 0:
        fill = np.broadcast_to(colour, (h, w, 3))
    else:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        other = rng.uniform(0, 255, 3)
        if style == 1:  # stripes
            period = rng.uniform(4, 10)
            t = (np.sin((xx + yy * rng.uniform(-1, 1)) * 2 * np.pi / period)
                 > 0).astype(np.float32)
        else:  # blend
            t = (xx / w)
        fill = colour * (1 - t[..., None]) + other * t[..., None]
    img[mask] = fill[mask]


def make_image(rng, size, max_objects):
    img = textured_background(rng, size)
    draw_clutter(rng, img)
    h, w = size
    objects = []
    for _ in range(rng.integers(1, max_objects + 1)):
        label = CLASSES[rng.integers(len(CLASSES))]
        obj_size = rng.uniform(0.18, 0.5) * min(h, w)
        margin = obj_size * 0.3
        center = rng.uniform(margin, (w - margin, h - margin))
        poly = shape_polygon(rng, label, center, obj_size)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        mask = mask.astype(bool)
        if mask.sum() < MIN_VISIBLE_AREA:
            continue
        paint_shape(rng, img, mask)
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


def write_split(out_dir, split, num_images, size, seed, max_objects):
    rng = np.random.default_rng(seed)
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        img, objects = make_image(rng, size, max_objects)
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
                category_id=CLASSES.index(obj['label']) + 1,
                segmentation=polygons, bbox=bbox, area=area, iscrowd=0))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=i + 1, name=n, supercategory='shape')
                            for i, n in enumerate(CLASSES)])
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    with open(osp.join(out_dir, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(coco, f)
    return len(images), len(annotations)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', nargs='?', default='data/demo_coco')
    parser.add_argument('--train', type=int, default=320)
    parser.add_argument('--val', type=int, default=64)
    parser.add_argument('--size', type=int, nargs=2, default=[128, 128],
                        metavar=('H', 'W'))
    parser.add_argument('--max-objects', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    for split, count, seed in (('train', args.train, args.seed),
                               ('val', args.val, args.seed + 1)):
        n_img, n_ann = write_split(args.out_dir, split, count,
                                   tuple(args.size), seed, args.max_objects)
        print(f'{split}: {n_img} images, {n_ann} instances -> '
              f'{osp.join(args.out_dir, split)}')


if __name__ == '__main__':
    main()
