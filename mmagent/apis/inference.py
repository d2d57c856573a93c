# Copyright (c) mmagent contributors. All rights reserved.
"""Inference on custom images through mmdet's ``DetInferencer`` and mmseg's
``MMSegInferencer``.

What mmagent adds to them: model names from ``model-index.yml``, official
mmdet 2.x / mmseg 0.x checkpoints converted on the fly, class names from the
config when a checkpoint has none, and image reading that copes with what
users have on disk (grayscale, alpha, 16-bit, EXIF rotation) and names the
file it cannot read.
"""
import difflib
import glob
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..utils.checkpoint import CheckpointLoadError, load_checkpoint_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp', '.ppm', '.pgm')


class ImageLoadError(ValueError):
    """An input file that is not a readable image."""


# ---------------------------------------------------------------- models
def model_index(index_file: Optional[str] = None) -> Dict[str, dict]:
    """``{name: {'config': absolute path, 'weights': url, ...}}`` from the
    OpenMMLab model index (``model-index.yml`` and the metafiles it
    imports)."""
    from mmengine.fileio import load
    index_file = index_file or osp.join(REPO_ROOT, 'model-index.yml')
    if not osp.isfile(index_file):
        return {}
    root = osp.dirname(index_file)
    models = {}
    for metafile in load(index_file).get('Import', []):
        for model in load(osp.join(root, metafile)).get('Models', []):
            models[model['Name']] = dict(
                config=osp.join(root, model['Config']),
                weights=model.get('Weights'),
                collection=model.get('In Collection'))
    return models


def resolve_config(model: str, index_file: Optional[str] = None) -> str:
    """A config path as given, or the config of a model-index name."""
    if osp.isfile(model):
        return model
    models = model_index(index_file)
    name = osp.splitext(osp.basename(model))[0]
    if name in models:
        return models[name]['config']
    close = difflib.get_close_matches(name, list(models), n=3, cutoff=0.5)
    hint = (f' Did you mean {", ".join(close)}?' if close else
            f' Known names: {", ".join(sorted(models)[:6])}, ...'
            if models else '')
    raise FileNotFoundError(
        f'{model!r} is neither a config file nor a model name in '
        f'model-index.yml.{hint}')


def prepare_weights(weights: str, config: str,
                    cache_dir: Optional[str] = None) -> str:
    """Path of weights the inferencer can load.

    mmagent/mmengine checkpoints pass through. An official mmdet 2.x /
    mmseg 0.x checkpoint is converted (``mmagent.utils.convert``), checked
    against ``config`` with strict loading and cached as
    ``<cache_dir>/<name>_mmagent.pth``. An official ImageNet checkpoint holds
    only a backbone and is refused with what to do instead.
    """
    return _prepare_weights(weights, config, cache_dir)[0]


def _prepare_weights(weights, config, cache_dir):
    """``prepare_weights`` plus the checkpoint's ``meta`` (read once)."""
    import torch

    from ..utils.convert import (check_fits_config, checkpoint_kind,
                                 convert_checkpoint)
    ckpt = load_checkpoint_file(weights)
    kind = checkpoint_kind(ckpt)
    if kind == 'official-imagenet':
        raise CheckpointLoadError(
            f'{weights} is an ImageNet backbone checkpoint: it has no '
            f'detection/segmentation heads. Fine-tune it first (the configs '
            f"load it through the backbone's init_cfg with tools/train.py), "
            f'or pass a downstream checkpoint.')
    if kind != 'official-downstream':
        return weights, ckpt.get('meta') or {}
    cache_dir = cache_dir or osp.join(
        osp.expanduser('~'), '.cache', 'mmagent', 'converted')
    out = osp.join(cache_dir,
                   osp.splitext(osp.basename(weights))[0] + '_mmagent.pth')
    new_ckpt, _ = convert_checkpoint(ckpt, weights)
    try:
        check_fits_config(new_ckpt['state_dict'], config)
    except CheckpointLoadError as e:
        raise CheckpointLoadError(
            f'{weights} is an official mmdet 2.x / mmseg 0.x checkpoint but '
            f'{e}\nIs it the checkpoint of {config}? Convert it for the '
            f'right config with: python tools/model_converters/'
            f'official2mmagent.py {weights} OUT.pth --config CONFIG') from e
    os.makedirs(cache_dir, exist_ok=True)
    torch.save(new_ckpt, out)
    print(f'converted the official checkpoint {weights} -> {out} (same as '
          f'tools/model_converters/official2mmagent.py {weights} {out} '
          f'--config {config}); pass {out} next time.')
    return out, new_ckpt['meta']


def dataset_meta_of(cfg) -> dict:
    """Classes and palette of the config's test set: its ``metainfo``, else
    the dataset class's ``METAINFO``."""
    from mmengine.registry import DATASETS
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    meta = dict(dataset.get('metainfo') or {})
    if 'classes' not in meta and dataset.get('type'):
        dataset_cls = DATASETS.get(dataset['type'])
        meta = {**getattr(dataset_cls, 'METAINFO', {}), **meta}
    return {k: meta[k] for k in ('classes', 'palette') if k in meta}


def init_inferencer(model: str,
                    weights: Optional[str] = None,
                    device: Optional[str] = None,
                    palette: Optional[str] = None,
                    cache_dir: Optional[str] = None,
                    show_progress: bool = False):
    """A ``DetInferencer`` or ``MMSegInferencer`` (the config's
    ``default_scope`` decides) for a config path or model-index name.

    Without ``weights`` the model keeps its random initialisation (a
    warning says so) and the config's class names.
    """
    from mmengine.config import Config

    import mmagent  # noqa: F401  (registers the backbones)
    config = resolve_config(model)
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope', 'mmdet')
    ckpt_meta = {}
    if weights is not None:
        weights, ckpt_meta = _prepare_weights(weights, config, cache_dir)
    else:
        warnings.warn(
            f'No weights given for {osp.basename(config)}: the model is '
            f'RANDOMLY INITIALISED and its predictions are meaningless. Pass '
            f'--weights / weights= a trained checkpoint.')
    with warnings.catch_warnings():
        # the inferencers' own "weights is None" notes are covered above
        warnings.simplefilter('ignore', UserWarning)
        if scope == 'mmdet':
            from mmdet.apis import DetInferencer
            inferencer = DetInferencer(
                model=cfg, weights=weights, device=device,
                palette=palette or 'none', show_progress=show_progress)
        elif scope == 'mmseg':
            from mmseg.apis import MMSegInferencer
            # mmseg takes a dataset name ('ade20k', 'cityscapes', ...)
            inferencer = MMSegInferencer(
                model=cfg, weights=weights, device=device,
                dataset_name=None if palette in (None, 'none') else palette)
            inferencer.show_progress = show_progress
        else:
            raise ValueError(
                f'{config}: default_scope {scope!r} has no image inferencer '
                f'here (expected mmdet or mmseg)')
    if 'dataset_meta' not in ckpt_meta and 'CLASSES' not in ckpt_meta:
        _dataset_meta_from_config(inferencer, cfg, palette, scope)
    inferencer.task = 'det' if scope == 'mmdet' else 'seg'
    return inferencer


def _dataset_meta_from_config(inferencer, cfg, palette, scope):
    """The inferencers fall back to COCO / Cityscapes names when the
    checkpoint has none: use the config's dataset instead."""
    meta = dataset_meta_of(cfg)
    if not meta:
        return
    model_meta = dict(inferencer.model.dataset_meta or {})
    model_meta['classes'] = meta['classes']
    if palette in (None, 'none') and 'palette' in meta:
        model_meta['palette'] = meta['palette']
    inferencer.model.dataset_meta = model_meta
    if scope == 'mmseg':
        inferencer.visualizer.set_dataset_meta(
            model_meta['classes'], model_meta.get('palette'))
    else:
        inferencer.visualizer.dataset_meta = model_meta


# ---------------------------------------------------------------- images
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
