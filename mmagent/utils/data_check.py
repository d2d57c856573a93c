# Copyright (c) mmagent contributors. All rights reserved.
"""Say where a configured dataset is expected before any work starts."""
import os.path as osp
from typing import Iterable, List, Optional, Tuple


def leaf_datasets(dataset_cfg) -> Iterable[dict]:
    """Leaf dataset configs, through Repeat/Concat/ClassBalanced wrappers."""
    if not isinstance(dataset_cfg, dict):
        return
    if 'datasets' in dataset_cfg:
        for sub in dataset_cfg['datasets']:
            yield from leaf_datasets(sub)
    elif 'dataset' in dataset_cfg:
        yield from leaf_datasets(dataset_cfg['dataset'])
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
        for dataset in leaf_datasets(loader_cfg.get('dataset')):
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
            if not prefixes and isinstance(dataset.get('split'), str):
                # mmpretrain's ImageNet: images under data_root/<split>/
                paths.append(osp.join(root, dataset['split']))
            if not paths and root:
                paths.append(root)
            missing += [
                f'{loader}: {p}' for p in paths
                if not osp.exists(p) and f'{loader}: {p}' not in missing
            ]
    return missing


def missing_files(dataset, limit: Optional[int] = 200) -> Tuple[list, int]:
    """Records of a built dataset whose image or label file is missing:
    ``([(index, path), ...], number of records checked)``. ``limit``
    records spread over the dataset are checked (all with ``None``)."""
    total = len(dataset)
    if limit is None or total <= limit:
        indices = range(total)
    else:
        indices = sorted({i * total // limit for i in range(limit)})
    missing = []
    for index in indices:
        info = dataset.get_data_info(index)
        for key in ('img_path', 'seg_map_path'):
            path = info.get(key)
            if isinstance(path, str) and not osp.exists(path):
                missing.append((index, path))
    return missing, len(indices)


def check_referenced_files(cfg, loaders: Iterable[str],
                           limit: Optional[int] = 200) -> None:
    """Build each loader's dataset (annotations only) and stop with one
    message when records reference image or label files that are missing.
    """
    import copy

    from mmengine.registry import DATASETS
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or not loader_cfg.get('dataset'):
            continue
        dataset = DATASETS.build(copy.deepcopy(loader_cfg['dataset']))
        missing, checked = missing_files(dataset, limit)
        if missing:
            lines = '\n  '.join(f'record {i}: {p}' for i, p in missing[:10])
            raise SystemExit(
                f'{loader}: {len(missing)} of the {checked} records checked '
                f'(of {len(dataset)}) reference files that do not exist:\n'
                f'  {lines}\nIs data_root right? Restore the files or fix '
                f'the annotations.')


def check_data_root(cfg, loaders: Iterable[str],
                    dataset_hint: str = 'The dataset') -> None:
    """Stop with one message naming where the data is expected and how to
    point the config elsewhere, instead of a traceback from a worker.
    ``dataset_hint`` names the dataset (a task's
    :attr:`~mmagent.tasks.Task.dataset_hint`)."""
    loaders = tuple(loaders)
    missing = missing_data(cfg, loaders)
    if not missing:
        return
    roots = sorted({
        d.get('data_root') for loader in loaders if cfg.get(loader)
        for d in leaf_datasets(cfg.get(loader).get('dataset'))
        if d.get('data_root')
    })
    lines = '\n  '.join(missing)
    where = ', '.join(roots) or "the config's data_root"
    raise SystemExit(
        f'Dataset not found. {dataset_hint} is '
        f'expected under {where}, but these are missing:\n  {lines}\n'
        f'Put the data there (a symlink is fine), or point the config '
        f'elsewhere, e.g. --cfg-options '
        f'train_dataloader.dataset.data_root=/path/to/data/ (likewise '
        f"val_dataloader/test_dataloader, and the evaluator's ann_file).")
