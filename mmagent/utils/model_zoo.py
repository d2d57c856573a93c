# Copyright (c) mmagent contributors. All rights reserved.
"""Model names of the OpenMMLab model index -> configs.

An installed mmagent carries ``configs/`` and ``model-index.yml`` in
``mmagent/.mim/`` (as mmdet does), so names and configs resolve after a
plain ``pip install``; a source checkout uses the files at its root.
"""
import difflib
import os.path as osp
from typing import Dict, Optional

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
INDEX_LOCATIONS = (
    osp.join(PACKAGE_DIR, '.mim', 'model-index.yml'),  # installed
    osp.join(osp.dirname(PACKAGE_DIR), 'model-index.yml'),  # source tree
)


def default_index_file() -> str:
    """The model index of this installation; raises if there is none."""
    for path in INDEX_LOCATIONS:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'no model-index.yml found (looked in {", ".join(INDEX_LOCATIONS)}):'
        f' reinstall mmagent (pip install .) so that its configs ship with it')


def model_index(index_file: Optional[str] = None) -> Dict[str, dict]:
    """``{name: {'config': absolute path, 'weights': url, ...}}`` from the
    OpenMMLab model index (``model-index.yml`` and the metafiles it
    imports)."""
    from mmengine.fileio import load
    index_file = index_file or default_index_file()
    root = osp.dirname(osp.abspath(index_file))
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
