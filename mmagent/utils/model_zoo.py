# Copyright (c) mmagent contributors. All rights reserved.
"""Model names of the OpenMMLab model index -> configs and weights.

An installed mmagent carries ``configs/`` and ``model-index.yml`` in
``mmagent/.mim/`` (as mmdet does), so names and configs resolve after a
plain ``pip install``; a source checkout uses the files at its root.
``$MMAGENT_MODEL_INDEX`` names another index (a private zoo, the tests').
"""
import difflib
import fnmatch
import os
import os.path as osp
from typing import Dict, List, Optional

#: the model index's ``Results: Task`` names -> mmagent's task names
TASK_NAMES = {
    'Image Classification': 'cls',
    'Object Detection': 'det',
    'Instance Segmentation': 'det',
    'Semantic Segmentation': 'seg',
}
TASKS = ('cls', 'det', 'seg')

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
INDEX_LOCATIONS = (
    osp.join(PACKAGE_DIR, '.mim', 'model-index.yml'),  # installed
    osp.join(osp.dirname(PACKAGE_DIR), 'model-index.yml'),  # source tree
)


def default_index_file() -> str:
    """The model index of this installation (or ``$MMAGENT_MODEL_INDEX``);
    raises if there is none."""
    chosen = os.environ.get('MMAGENT_MODEL_INDEX')
    if chosen:
        if not osp.isfile(chosen):
            raise FileNotFoundError(
                f'MMAGENT_MODEL_INDEX={chosen}: no such file')
        return chosen
    for path in INDEX_LOCATIONS:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'no model-index.yml found (looked in {", ".join(INDEX_LOCATIONS)}):'
        f' reinstall mmagent (pip install .) so that its configs ship with it')


def model_index(index_file: Optional[str] = None) -> Dict[str, dict]:
    """``{name: {'config': absolute path, 'weights': url or None,
    'sha256': hex or None, 'task': 'cls' | 'det' | 'seg', ...}}`` from the
    OpenMMLab model index (``model-index.yml`` and the metafiles it
    imports). ``Weights SHA256`` is mmagent's field: the official releases
    publish no checksum, so it is null there."""
    from mmengine.fileio import load
    index_file = index_file or default_index_file()
    root = osp.dirname(osp.abspath(index_file))
    models = {}
    for metafile in load(index_file).get('Import', []):
        for model in load(osp.join(root, metafile)).get('Models', []):
            # the results' task, else the config's folder (configs/det/...)
            tasks = [TASK_NAMES.get(r.get('Task'))
                     for r in model.get('Results') or []]
            tasks += [part for part in model['Config'].split('/')
                      if part in TASKS]
            models[model['Name']] = dict(
                config=osp.join(root, model['Config']),
                weights=model.get('Weights'),
                sha256=model.get('Weights SHA256'),
                task=next((t for t in tasks if t), None),
                collection=model.get('In Collection'))
    return models


def list_models(pattern: Optional[str] = None, task: Optional[str] = None,
                index_file: Optional[str] = None) -> List[str]:
    """Sorted model names of the index, those matching the glob
    ``pattern`` (case-insensitive, e.g. ``'*agent-swin*'``) and of
    ``task`` (``'cls'``, ``'det'``, ``'seg'``, or the index's names such as
    ``'Object Detection'``)."""
    if task is not None:
        task = TASK_NAMES.get(task, task)
        if task not in TASKS:
            raise ValueError(
                f'unknown task {task!r}: use one of {", ".join(TASKS)} or '
                f'{", ".join(repr(t) for t in TASK_NAMES)}')
    names = []
    for name, entry in model_index(index_file).items():
        if pattern and not fnmatch.fnmatch(name.lower(), pattern.lower()):
            continue
        if task and entry['task'] != task:
            continue
        names.append(name)
    return sorted(names)


def model_entry(name: str, index_file: Optional[str] = None) -> dict:
    """The index entry of ``name`` (plus its ``name``); an unknown name
    raises with the closest known ones."""
    models = model_index(index_file)
    if name in models:
        return dict(models[name], name=name)
    raise KeyError(f'{name!r} is not a model name in the model index (see '
                   f'mmagent.list_models()).{_closest(name, models)}')


def _closest(name: str, models: dict) -> str:
    close = difflib.get_close_matches(name, list(models), n=3, cutoff=0.5)
    return (f' Did you mean {", ".join(close)}?' if close else
            f' Known names: {", ".join(sorted(models)[:6])}, ...'
            if models else '')


def resolve_config(model: str, index_file: Optional[str] = None) -> str:
    """A config path as given, or the config of a model-index name."""
    if osp.isfile(model):
        return model
    models = model_index(index_file)
    name = osp.splitext(osp.basename(model))[0]
    if name in models:
        return models[name]['config']
    raise FileNotFoundError(
        f'{model!r} is neither a config file nor a model name in '
        f'model-index.yml.{_closest(name, models)}')
