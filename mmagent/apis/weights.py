# Copyright (c) mmagent contributors. All rights reserved.
"""Weights a config's model can load: official downstream checkpoints
converted and checked against the config; the class names and palette that
go with them."""
import os
import os.path as osp
from typing import Optional

from ..tasks import get_task
from ..utils.checkpoint import CheckpointLoadError, load_checkpoint_file
from ..utils.config import default_scope, load_config
from ..utils.convert import checkpoint_kind, convert_downstream_checkpoint
from ..utils.download import mmagent_home


def dataset_meta_of(cfg) -> dict:
    """Classes and palette of the config's test set: its ``metainfo``, else
    the dataset class's ``METAINFO``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    meta = dict(dataset.get('metainfo') or {})
    if 'classes' not in meta and dataset.get('type'):
        datasets = get_task(cfg).registries()[0]  # the task library's
        dataset_cls = datasets.get(dataset['type'])
        meta = {**getattr(dataset_cls, 'METAINFO', {}), **meta}
    return {k: meta[k] for k in ('classes', 'palette') if k in meta}


def config_name(config) -> str:
    """A config path, or a loaded config's file, for messages."""
    if isinstance(config, str):
        return config
    return getattr(config, 'filename', None) or 'the config'


def check_fits_config(state_dict, config, model=None) -> None:
    """Load into the config's model (``model``, when the caller has built
    it already; else one built here) with ``strict=True``; a mismatch
    raises :class:`CheckpointLoadError` listing the first offending
    keys. ``config``: a path or a loaded config."""
    if model is None:
        from mmengine.registry import MODELS, init_default_scope
        if isinstance(config, str):
            cfg = load_config(config, init_scope=True)
        else:  # as load_config(init_scope=True) does for a file
            cfg = config
            init_default_scope(default_scope(cfg))
        model = MODELS.build(cfg.model)
    load_fitting_state_dict(model, state_dict, config_name(config))


def load_fitting_state_dict(model, state_dict, name: str) -> None:
    """``model.load_state_dict(state_dict, strict=True)``, or one
    :class:`CheckpointLoadError` listing the first offending keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape))
                  for k, v in state_dict.items()
                  if k in own and v.shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f'missing in the checkpoint: {k}' for k in missing[:10]]
        lines += [f'not in the model: {k}' for k in unexpected[:10]]
        lines += [f'{k}: checkpoint {a} vs model {b}'
                  for k, a, b in mismatched[:10]]
        raise CheckpointLoadError(
            f'the weights do not fit {name} '
            f'({len(missing)} missing, {len(unexpected)} unexpected, '
            f'{len(mismatched)} mismatched):\n  ' + '\n  '.join(lines))
    model.load_state_dict(state_dict, strict=True)


def prepare_weights(weights: str, config: str,
                    cache_dir: Optional[str] = None) -> str:
    """Path of weights the inferencer can load.

    mmagent/mmengine checkpoints pass through. An official mmdet 2.x /
    mmseg 0.x checkpoint, or an official ImageNet one for a classification
    config, is converted (:func:`convert_checkpoint`), checked against
    ``config`` with strict loading and cached as
    ``<cache_dir>/<name>_mmagent.pth``. An official ImageNet checkpoint for
    a detection/segmentation config holds only a backbone and is refused
    with what to do instead.
    """
    return prepare_weights_and_meta(weights, config, cache_dir)[0]


def convert_checkpoint(ckpt, filename: str = '<checkpoint>'):
    """An official checkpoint as an mmagent one: ``(new_checkpoint,
    renamed_keys)``. Official ImageNet classifiers (``{'model': ...}``)
    become mmpretrain classifier checkpoints (the classification task's
    conversion), official mmdet 2.x / mmseg 0.x ones keep their keys."""
    if checkpoint_kind(ckpt) == 'official-imagenet':
        return get_task('mmpretrain').convert_imagenet_checkpoint(
            ckpt, filename)
    return convert_downstream_checkpoint(ckpt, filename)


def prepare_weights_and_meta(weights, config, cache_dir=None, out=None,
                             model=None):
    """:func:`prepare_weights` plus the checkpoint's ``meta`` (the file is
    read once); ``out``: where a converted checkpoint goes instead.
    ``config``: a path or a loaded config (read once by the caller);
    ``model``: the config's model, when the caller has built it, which the
    strict check of a converted checkpoint then loads (no second build)."""
    import torch
    ckpt = load_checkpoint_file(weights)
    kind = checkpoint_kind(ckpt)
    cfg = load_config(config) if isinstance(config, str) else config
    task = get_task(cfg)
    if kind == 'official-imagenet' and not task.imagenet_checkpoint_is_model:
        raise CheckpointLoadError(
            f'{weights} is an ImageNet backbone checkpoint: it has no '
            f'detection/segmentation heads. Fine-tune it first (the configs '
            f"load it through the backbone's init_cfg with tools/train.py), "
            f'or pass a downstream checkpoint.')
    if kind == 'mmagent':
        return weights, ckpt.get('meta') or {}
    cache_dir = cache_dir or osp.join(mmagent_home(), 'converted')
    out = out or osp.join(
        cache_dir, osp.splitext(osp.basename(weights))[0] + '_mmagent.pth')
    new_ckpt, _ = convert_checkpoint(ckpt, weights)
    name = config_name(config)
    try:
        check_fits_config(new_ckpt['state_dict'], cfg, model)
    except CheckpointLoadError as e:
        raise CheckpointLoadError(
            f'{weights} is an official Agent-Attention checkpoint but '
            f'{e}\nIs it the checkpoint of {name}? Convert it for the '
            f'right config with: python tools/model_converters/'
            f'official2mmagent.py {weights} OUT.pth --config CONFIG') from e
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(new_ckpt, f'{out}.partial')
    os.replace(f'{out}.partial', out)  # a cached file is a complete one
    print(f'converted the official checkpoint {weights} -> {out} (same as '
          f'tools/model_converters/official2mmagent.py {weights} {out} '
          f'--config {name}); pass {out} next time.')
    return out, new_ckpt['meta']
