# Copyright (c) mmagent contributors. All rights reserved.
"""Helpers shared by ``tools/train.py`` and ``tools/test.py``."""
import os.path as osp
from typing import Iterable, List

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS, init_default_scope

DATA_HELP = {
    'mmdet': 'COCO (see README, "COCO detection / Data")',
    'mmseg': 'ADE20K',
    'mmpretrain': 'ImageNet',
}


def load_config(path: str, cfg_options: dict = None,
                init_scope: bool = False) -> Config:
    """``Config.fromfile`` with ``--cfg-options`` merged; ``init_scope``
    also sets the config's default scope (for tools that build modules
    without a Runner)."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if init_scope:
        init_default_scope(cfg.get('default_scope', 'mmdet'))
    return cfg


def resolve_work_dir(cfg, work_dir: str, config_path: str) -> None:
    """``--work-dir``, else the config's, else ``work_dirs/<config name>``
    (mmdet's rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(config_path))[0])


def synthetic_data_sample(scope: str, height: int, width: int):
    """An empty data sample of the task with the image meta that
    ``predict``/``tensor`` modes read, for inputs made up by the tools."""
    meta = dict(img_shape=(height, width), ori_shape=(height, width),
                pad_shape=(height, width), batch_input_shape=(height, width),
                scale_factor=(1., 1.), img_id=0, img_path='synthetic.png')
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return DetDataSample(metainfo=meta)
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        return SegDataSample(metainfo=meta)
    if scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        return DataSample(metainfo=meta)
    raise ValueError(f'unsupported default_scope {scope!r}: expected mmdet, '
                     f'mmseg or mmpretrain')


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for processes without a GPU.

    mmengine passes ``device_ids=[LOCAL_RANK]``, which DDP only accepts for
    GPU modules, and SyncBN has no CPU kernel: both are undone here.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(
            module=revert_sync_batchnorm(module), device_ids=None, **kwargs)


def prepare_distributed(cfg) -> None:
    """Let ``--launcher pytorch`` runs work without CUDA.

    The configs ask for nccl and mmengine calls ``torch.cuda.set_device``
    while initialising, so on a CPU-only machine we join the process group
    over gloo ourselves (mmengine then skips its own initialisation) and
    wrap the model with :class:`CPUDistributedDataParallel`. Thus
    ``tools/dist_train.sh CONFIG 2`` runs two CPU processes.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')  # env:// from torchrun


def finish_distributed() -> None:
    """Leave the process group before exit; gloo's threads otherwise may
    abort the interpreter's shutdown ("terminate called without an active
    exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _datasets(dataset_cfg) -> Iterable[dict]:
    """Leaf dataset configs, through Repeat/Concat/ClassBalanced wrappers."""
    if not isinstance(dataset_cfg, dict):
        return
    if 'datasets' in dataset_cfg:
        for sub in dataset_cfg['datasets']:
            yield from _datasets(sub)
    elif 'dataset' in dataset_cfg:
        yield from _datasets(dataset_cfg['dataset'])
    else:
        yield dataset_cfg


def missing_data(cfg, loaders: Iterable[str]) -> List[str]:
    """Expected files/folders of the configured datasets that do not exist.
    """
    missing = []
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in _datasets(loader_cfg.get('dataset')):
            root = dataset.get('data_root') or ''
            paths = []
            if dataset.get('ann_file'):
                paths.append(osp.join(root, dataset['ann_file']))
            prefixes = dataset.get('data_prefix') or {}
            if isinstance(prefixes, str):  # mmpretrain allows a plain path
                prefixes = dict(img_path=prefixes)
            for prefix in prefixes.values():
                if isinstance(prefix, str) and prefix:
                    paths.append(osp.join(root, prefix))
            if not paths and root:
                paths.append(root)
            missing += [
                f'{loader}: {p}' for p in paths
                if not osp.exists(p) and f'{loader}: {p}' not in missing
            ]
    return missing


def check_data_root(cfg, loaders: Iterable[str]) -> None:
    """Stop with one message naming where the data is expected and how to
    point the config elsewhere, instead of a traceback from a worker."""
    missing = missing_data(cfg, loaders)
    if not missing:
        return
    scope = cfg.get('default_scope', 'mmdet')
    roots = sorted({
        d.get('data_root') for loader in loaders if cfg.get(loader)
        for d in _datasets(cfg.get(loader).get('dataset'))
        if d.get('data_root')
    })
    lines = '\n  '.join(missing)
    where = ', '.join(roots) or "the config's data_root"
    raise SystemExit(
        f'Dataset not found. {DATA_HELP.get(scope, "The dataset")} is '
        f'expected under {where}, but these are missing:\n  {lines}\n'
        f'Put the data there (a symlink is fine), or point the config '
        f'elsewhere, e.g. --cfg-options '
        f'train_dataloader.dataset.data_root=/path/to/data/ (likewise '
        f"val_dataloader/test_dataloader, and the evaluator's ann_file).")
