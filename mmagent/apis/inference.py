# Copyright (c) mmagent contributors. All rights reserved.
"""Inference on custom images through the task libraries' inferencers
(mmdet's ``DetInferencer``, mmseg's ``MMSegInferencer``, mmpretrain's
``ImageClassificationInferencer``; the config's task picks one).

What mmagent adds to them: model names from ``model-index.yml``, official
mmdet 2.x / mmseg 0.x checkpoints converted on the fly, and class names from
the config when a checkpoint has none.
"""
import os.path as osp
import warnings
from typing import Optional

from ..tasks import get_task
from ..utils.checkpoint import trust_checkpoints
from ..utils.model_zoo import resolve_config
from .models import fetch_weights
from .weights import dataset_meta_of, prepare_weights_and_meta


def init_inferencer(model: str,
                    weights: Optional[str] = None,
                    device: Optional[str] = None,
                    palette: Optional[str] = None,
                    cache_dir: Optional[str] = None,
                    show_progress: bool = False,
                    trust_checkpoint: bool = False):
    """The task's inferencer for a config path or model-index name; its
    ``task`` attribute is the :class:`~mmagent.tasks.Task`.

    A model-index name without ``weights`` gets its released weights,
    fetched and cached by :func:`~mmagent.apis.models.fetch_weights`. A
    config path without ``weights`` keeps its random initialisation (a
    warning says so) and the config's class names. ``weights`` load with
    the allow-list of :mod:`mmagent.utils.checkpoint` unless
    ``trust_checkpoint`` (full unpickling: only for files you trust).
    """
    from mmengine.config import Config
    config = resolve_config(model)
    cfg = Config.fromfile(config)
    task = get_task(cfg)
    ckpt_meta = {}
    with trust_checkpoints(trust_checkpoint):
        if weights is None and not osp.isfile(model):
            weights = fetch_weights(osp.splitext(osp.basename(model))[0])
        if weights is not None:
            weights, ckpt_meta = prepare_weights_and_meta(
                weights, config, cache_dir)
        else:
            warnings.warn(
                f'No weights given for {osp.basename(config)}: the model is '
                f'RANDOMLY INITIALISED and its predictions are meaningless. '
                f'Pass --weights / weights= a trained checkpoint.')
        with warnings.catch_warnings():
            # the inferencers' own "weights is None" notes are covered above
            warnings.simplefilter('ignore', UserWarning)
            inferencer = task.build_inferencer(cfg, weights, device, palette,
                                               show_progress)
    if 'dataset_meta' not in ckpt_meta and 'CLASSES' not in ckpt_meta:
        # The inferencers fall back to COCO / Cityscapes names when the
        # checkpoint has none: use the config's dataset instead.
        meta = dataset_meta_of(cfg)
        if meta:
            task.set_dataset_meta(inferencer, meta, palette)
    inferencer.task = task
    return inferencer


def _unique_stem(path: str, used: set) -> str:
    stem = osp.splitext(osp.basename(path))[0]
    name, k = stem, 1
    while name in used:
        name, k = f'{stem}_{k}', k + 1
    used.add(name)
    return name


def save_predictions(inferencer, files, out_dir: str, batch_size: int = 1,
                     score_thr: float = 0.3, opacity: float = 0.5):
    """Run ``inferencer`` (from :func:`init_inferencer`) on image files and
    write ``out_dir/vis/<image>.png`` (the task library's drawing) and
    ``out_dir/preds/<image>.json`` (the task's prediction record).

    A file that cannot be read or a batch that fails is an error line, the
    rest still run. Returns ``(number of images done, error lines)``.
    """
    import json
    import os

    import cv2
    from mmengine.utils import ProgressBar

    from ..utils.image_io import ImageLoadError, load_image
    vis_dir = osp.join(out_dir, 'vis')
    pred_dir = osp.join(out_dir, 'preds')
    os.makedirs(vis_dir, exist_ok=True)
    os.makedirs(pred_dir, exist_ok=True)
    task = inferencer.task

    errors, used, done = [], set(), 0
    progress = ProgressBar(len(files))
    for start in range(0, len(files), batch_size):
        batch_files, images = [], []
        for path in files[start:start + batch_size]:
            try:
                images.append(load_image(path))
                batch_files.append(path)
            except ImageLoadError as e:
                errors.append(str(e))
                progress.update()
        if not images:
            continue
        try:
            results = task.predict(inferencer, images, score_thr, opacity)
        except Exception as e:  # one bad batch must not end the run
            errors += [f'{p}: inference failed ({type(e).__name__}: {e})'
                       for p in batch_files]
            for _ in batch_files:
                progress.update()
            continue
        for path, (prediction, vis) in zip(batch_files, results):
            name = _unique_stem(path, used)
            cv2.imwrite(osp.join(vis_dir, name + '.png'), vis[..., ::-1])
            record = task.prediction_record(inferencer, prediction, path,
                                            osp.join(pred_dir, name),
                                            score_thr)
            with open(osp.join(pred_dir, name + '.json'), 'w') as f:
                json.dump(record, f)
            done += 1
            progress.update()
    print(f'\n{done} of {len(files)} images done -> {vis_dir}, {pred_dir}')
    return done, errors
