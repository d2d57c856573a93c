# Copyright (c) mmagent contributors. All rights reserved.
"""Models by name, as mmpretrain's ``list_models`` / ``get_model``, for
mmagent's classifiers, detectors and segmentors: the config comes from the
model index, the weights from its ``Weights`` link.

Fetched weights live in ``$MMAGENT_HOME/checkpoints`` (default
``~/.cache/mmagent``): ``NAME.pth`` as downloaded (complete and, where the
index gives ``Weights SHA256``, verified; see
:mod:`mmagent.utils.download`), and for an official-format file
``NAME_mmagent.pth``, converted once by the converter of
``tools/model_converters/official2mmagent.py`` and checked against the
config with strict loading. Every file is read through the safe loader;
a download that fails any check leaves nothing behind.
"""
import hashlib
import os
import os.path as osp
from typing import Optional, Union

from ..tasks import get_task
from ..utils.checkpoint import (CheckpointLoadError, extract_state_dict,
                                load_checkpoint_file, trust_checkpoints)
from ..utils.download import DownloadError, download, mmagent_home
from ..utils.model_zoo import list_models, model_entry
from .weights import dataset_meta_of, prepare_weights_and_meta

__all__ = ['list_models', 'get_model', 'fetch_weights']


def _checkpoints_dir() -> str:
    return osp.join(mmagent_home(), 'checkpoints')


def fetch_weights(name: str, url: Optional[str] = None,
                  index_file: Optional[str] = None, cfg=None,
                  model=None) -> str:
    """A loadable checkpoint of model ``name``: from the cache, else
    downloaded from ``url`` (default: the index's ``Weights``), verified,
    converted if official, and cached (see the module). ``cfg`` and
    ``model``: the model's config and model when the caller has them (the
    conversion's strict check then reads and builds neither again).

    Raises:
        CheckpointLoadError: the model has no released weights, or the
            file is unsafe or does not fit the config.
        DownloadError: unreachable or damaged download; the message says
            where to put the file by hand.
    """
    entry = model_entry(name, index_file)
    sha256 = entry['sha256'] if url is None else None
    url = url or entry['weights']
    if not url:
        raise CheckpointLoadError(
            f'{name} has no released weights (its authors published none); '
            f'train it with tools/train.py {entry["config"]} and pass the '
            f'checkpoint: --weights / weights= / pretrained=PATH')
    stem = name if url == entry['weights'] else (
        f'{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}')
    converted = osp.join(_checkpoints_dir(), f'{stem}_mmagent.pth')
    if osp.isfile(converted):
        return converted
    path = osp.join(_checkpoints_dir(), f'{stem}.pth')
    fetched = not osp.isfile(path)
    if fetched:
        try:
            download(url, path, sha256)
        except DownloadError as e:
            raise DownloadError(
                f'{e}. Offline? Put the file at {path} yourself (it is '
                f'converted on first use), or pass your own checkpoint: '
                f'--weights / weights= / pretrained=PATH') from None
    try:
        weights, _ = prepare_weights_and_meta(
            path, entry['config'] if cfg is None else cfg, out=converted,
            model=model)
    except CheckpointLoadError:
        if fetched:  # nothing refused stays in the cache
            os.remove(path)
        raise
    return weights


def get_model(name: str, pretrained: Union[bool, str] = False,
              device: str = 'cpu', trust_checkpoint: bool = False,
              index_file: Optional[str] = None):
    """The built classifier, detector or segmentor of model ``name``, in
    eval mode on ``device``, with ``dataset_meta`` (class names) and
    ``cfg``.

    Args:
        name (str): A model-index name (:func:`list_models`).
        pretrained (bool | str): ``False``: random weights; ``True``: the
            index's weights (:func:`fetch_weights`); a URL: fetched the
            same way; a local path: an mmagent or official checkpoint
            (converted as by the inferencers).
        trust_checkpoint (bool): Unpickle a local checkpoint fully (it can
            run code): only for files you trust.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    if not (isinstance(pretrained, (bool, str)) or pretrained is None):
        raise TypeError(f'pretrained must be a bool, a path or a URL, got '
                        f'{pretrained!r}')
    entry = model_entry(name, index_file)
    cfg = Config.fromfile(entry['config'])  # read once, built once
    task = get_task(cfg)
    init_default_scope(task.scope)
    model = task.models_registry().build(cfg.model)
    meta = dataset_meta_of(cfg)
    weights = None
    with trust_checkpoints(trust_checkpoint):
        if pretrained is True:
            weights = fetch_weights(name, index_file=index_file, cfg=cfg,
                                    model=model)
        elif isinstance(pretrained, str) and '://' in pretrained:
            weights = fetch_weights(name, pretrained, index_file, cfg=cfg,
                                    model=model)
        elif isinstance(pretrained, str):
            weights, _ = prepare_weights_and_meta(pretrained, cfg,
                                                  model=model)
        if weights is not None:
            ckpt = load_checkpoint_file(weights)
            state_dict = extract_state_dict(ckpt, weights, prefix='')
            try:
                model.load_state_dict(state_dict, strict=True)
            except RuntimeError as e:
                raise CheckpointLoadError(
                    f'{weights} does not fit {name}: '
                    f'{str(e).splitlines()[0]}') from None
            meta = dict(meta, **(ckpt.get('meta') or {}).get(
                'dataset_meta', {}))
    model.dataset_meta = meta
    model.cfg = cfg
    return model.to(device).eval()
