# Copyright (c) mmagent contributors. All rights reserved.
"""Distributed runs without a GPU: gloo process group, a DDP wrapper that
accepts CPU modules, and a clean exit."""
import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


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
