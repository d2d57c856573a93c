# Copyright (c) mmagent contributors. All rights reserved.
"""Distributed runs without a GPU (torchrun or Slurm): gloo process group,
a DDP wrapper that accepts CPU modules, and a clean exit."""
import datetime
import gc
import os
import subprocess

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


#: Seconds a collective waits for the other processes before this one
#: gives up with an error (a worker that died, a stuck node). Override with
#: the environment variable ``MMAGENT_DIST_TIMEOUT``.
DIST_TIMEOUT_ENV = 'MMAGENT_DIST_TIMEOUT'
DEFAULT_TIMEOUT_S = {'cpu': 600, 'gpu': 1200}


def dist_timeout(gpu: bool) -> int:
    """The process-group timeout in seconds: ``MMAGENT_DIST_TIMEOUT``, else
    10 minutes on CPU (gloo) and 20 on GPU (nccl, whose full-dataset
    evaluation on rank 0 can keep the others waiting for minutes) instead
    of torch's 30."""
    value = os.environ.get(DIST_TIMEOUT_ENV)
    if value is None:
        return DEFAULT_TIMEOUT_S['gpu' if gpu else 'cpu']
    try:
        seconds = int(value)
        if seconds <= 0:
            raise ValueError
    except ValueError:
        raise SystemExit(f'{DIST_TIMEOUT_ENV} must be a positive number of '
                         f'seconds, got {value!r}') from None
    return seconds


def slurm_environment() -> dict:
    """torch's ``env://`` variables of a Slurm task, as mmengine's slurm
    launcher derives them: rank and world size from ``SLURM_PROCID`` /
    ``SLURM_NTASKS``, the local rank from ``SLURM_LOCALID``, the master the
    first host of ``SLURM_NODELIST`` (``scontrol show hostname``), unless
    ``MASTER_ADDR`` is set; ``MASTER_PORT`` as set, else 29500."""
    master = os.environ.get('MASTER_ADDR')
    if master is None:
        hosts = subprocess.run(
            ['scontrol', 'show', 'hostname', os.environ['SLURM_NODELIST']],
            capture_output=True, text=True, check=True)
        master = hosts.stdout.split()[0]
    return dict(
        RANK=os.environ['SLURM_PROCID'],
        WORLD_SIZE=os.environ['SLURM_NTASKS'],
        LOCAL_RANK=os.environ.get('SLURM_LOCALID', '0'),
        MASTER_ADDR=master,
        MASTER_PORT=os.environ.get('MASTER_PORT', '29500'))


def prepare_distributed(cfg) -> None:
    """Set the process-group timeout (:func:`dist_timeout`) and let
    ``--launcher pytorch`` and ``--launcher slurm`` runs work without CUDA.

    The configs ask for nccl and mmengine calls ``torch.cuda.set_device``
    while initialising, so on a CPU-only machine we join the process group
    over gloo ourselves (mmengine then skips its own initialisation; a
    Slurm task first gets torch's variables from :func:`slurm_environment`)
    and wrap the model with :class:`CPUDistributedDataParallel`. Thus
    ``tools/dist_train.sh CONFIG 2`` runs two CPU processes, and
    ``tools/slurm_train.sh`` CPU tasks.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none':
        return
    gpu = torch.cuda.is_available()
    timeout = dist_timeout(gpu)
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg.setdefault('timeout', timeout)
    if gpu:
        if restart_count() > 0 and not dist.is_initialized():
            torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
            join_process_group(dist_cfg.get('backend', 'nccl'),
                               dist_cfg['timeout'])
        return
    dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if launcher == 'slurm':
        os.environ.update(slurm_environment())
    if not dist.is_initialized():
        join_process_group('gloo', dist_cfg['timeout'])


def restart_count() -> int:
    """How often torchrun restarted this worker group (``--max-restarts``)."""
    return int(os.environ.get('TORCHELASTIC_RESTART_COUNT', 0))


def join_process_group(backend: str, timeout: int) -> None:
    """``init_process_group`` over ``env://`` (torchrun's or Slurm's
    variables), its keys under a prefix of this attempt: torchrun keeps
    one store across the restarts of a group, where a restarted rank could
    otherwise read the address a dead one left and fail to connect."""
    seconds = datetime.timedelta(seconds=timeout)
    store, rank, world_size = next(dist.rendezvous('env://',
                                                   timeout=seconds))
    dist.init_process_group(
        backend=backend, timeout=seconds, rank=rank, world_size=world_size,
        store=dist.PrefixStore(f'attempt_{restart_count()}', store))


def finish_distributed(runner=None) -> None:
    """Leave the process group before exit.

    DDP's reducer keeps its own reference to the process group, so the
    wrapped model is released first: only then does
    ``destroy_process_group`` stop gloo's worker threads while the
    interpreter is alive. Left to the interpreter's shutdown, those threads
    may abort it ("terminate called without an active exception", exit
    code -6) after a run that otherwise succeeded.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    if runner is not None:
        runner.model = None
    gc.collect()  # the runner's hooks and loops hold reference cycles
    dist.destroy_process_group()
