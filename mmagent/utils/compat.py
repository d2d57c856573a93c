# Copyright (c) mmagent contributors. All rights reserved.
"""Runtime fixes for today's stack, applied on ``import mmagent``.

torch>=2.6 loads with ``weights_only=True`` by default, while mmengine 0.10.7
calls ``torch.load`` without the argument. Its own checkpoints (numpy scalars,
``HistoryBuffer`` in ``meta``/``message_hub``) then fail to load in resume,
``tools/test.py``, ``load_from`` and the inferencers. We re-register
mmengine's local and http(s) checkpoint loaders with a full (trusted) load,
as mmengine's own main branch does since #1670.
"""
import os
import os.path as osp

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

    def fetch():
        return torch.hub.load_state_dict_from_url(
            filename,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=False)

    rank, world_size = get_dist_info()
    # Rank 0 downloads first; the others then read the cached file.
    checkpoint = fetch() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = fetch()
    return checkpoint


def patch_checkpoint_loading() -> None:
    """Make mmengine's checkpoint loaders work on torch>=2.6 (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_from_local)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(load_from_http)
    _PATCHED = True
