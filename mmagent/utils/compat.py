# Copyright (c) mmagent contributors. All rights reserved.
"""What ``import mmagent`` changes in mmengine, and nothing more.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since
torch 2.6 that means the restricted unpickler without an allow-list, so its
own checkpoints (numpy scalars, ``HistoryBuffer`` in ``meta`` and
``message_hub``) fail to load in resume, ``tools/test.py``, ``load_from``
and the inferencers. We re-register mmengine's checkpoint loaders for local
paths and ``http(s)://`` URLs (``CheckpointLoader.register_scheme``, as
mmengine's own main branch later changed them) with
:func:`mmagent.utils.checkpoint.torch_load`: the restricted unpickler with
mmagent's allow-list of checkpoint types, and full unpickling only for
trusted files (``MMAGENT_TRUST_CHECKPOINTS=1``). Other schemes, and
``torch.load`` itself, are untouched.

It also adds one warnings filter: mmengine's ``is_installed`` re-imports
``pkg_resources`` on every call (for each ``mmdet::``-style config base), so
setuptools' "pkg_resources is deprecated" warning would print several times
per process; that message alone is ignored.
"""
import os
import os.path as osp
import warnings
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint import torch_load

_PATCHED = False


# Named like mmengine's loaders: its log line prints `__name__[10:]`.
def load_from_local(filename, map_location):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch_load(filename, map_location=map_location)


def load_from_http(filename,
                   map_location=None,
                   model_dir=None,
                   progress=os.isatty(0)):
    """Download once into torch hub's cache (``model_dir``), then read the
    file like a local one."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))

    def fetch():
        if not osp.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            torch.hub.download_url_to_file(filename, cached,
                                           progress=progress)

    rank, world_size = get_dist_info()
    # Rank 0 downloads first; the others then read the cached file.
    if rank == 0:
        fetch()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            fetch()
    return torch_load(cached, map_location=map_location)


def patch_checkpoint_loading() -> None:
    """Register the loaders above in mmengine and ignore the
    pkg_resources deprecation warning (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_from_local)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(load_from_http)
    _PATCHED = True
