# Copyright (c) mmagent contributors. All rights reserved.
"""Reading the images users have on disk: files, folders and globs;
grayscale, alpha, 16-bit and EXIF-rotated pictures; one named error for a
file that is not a readable image."""
import glob
import os
import os.path as osp
from typing import List, Sequence

import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp', '.ppm', '.pgm')


class ImageLoadError(ValueError):
    """An input file that is not a readable image."""


def collect_images(inputs: Sequence[str]) -> List[str]:
    """Files from image paths, folders (their images, sorted) and globs.
    Paths that exist are kept whatever their extension, so a bad file gets
    its own error later instead of vanishing."""
    files = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, f) for f in os.listdir(item)
                if f.lower().endswith(IMAGE_EXTENSIONS))
        elif osp.exists(item):
            found = [item]
        else:
            found = sorted(glob.glob(item, recursive=True))
            found = [f for f in found if osp.isfile(f)]
        if not found:
            raise FileNotFoundError(f'no image found for input {item!r}')
        files += [f for f in found if f not in files]
    return files


def load_image(path: str) -> np.ndarray:
    """Read an image as 8-bit BGR (the layout mmcv's pipelines use).

    EXIF orientation is applied; grayscale becomes 3 channels; transparent
    pixels are put on white; 16-bit images are scaled to 8 bits. Raises
    :class:`ImageLoadError` naming the file otherwise.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not osp.isfile(path):
        raise ImageLoadError(f'{path}: no such file')
    if osp.getsize(path) == 0:
        raise ImageLoadError(f'{path}: empty file')
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_bgr8(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(
            f'{path}: not a readable image ({type(e).__name__}: {e})') from e


def _to_bgr8(img) -> np.ndarray:
    from PIL import Image
    if img.mode in ('I;16', 'I;16B', 'I;16L', 'I', 'F'):
        array = np.asarray(img, dtype=np.float64)
        scale = 257.0 if img.mode.startswith('I;16') or array.max() > 255 \
            else 1.0
        gray = np.clip(array / scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if img.mode in ('RGBA', 'LA', 'PA') or (img.mode == 'P' and
                                            'transparency' in img.info):
        rgba = img.convert('RGBA')
        white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = np.asarray(img.convert('RGB'))
    return np.ascontiguousarray(rgb[..., ::-1])
