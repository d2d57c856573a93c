# Copyright (c) mmagent contributors. All rights reserved.
"""Crash-safe checkpoints: written to a temporary file and renamed, old ones
deleted only after the new one is complete, and resumed from the newest
*complete* checkpoint of the work dir wherever that folder now lives."""
import glob
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ..utils.checkpoint import CheckpointLoadError, inspect_checkpoint
from .resume import take_seed_of_checkpoint

LAST_CHECKPOINT = 'last_checkpoint'
PARTIAL_SUFFIX = '.partial'


def _commit(path: str) -> None:
    """Flush ``<path>.partial`` to disk and rename it to ``path``."""
    partial = path + PARTIAL_SUFFIX
    with open(partial, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(partial, path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` whose saves cannot leave the work dir
    without a complete checkpoint.

    mmengine deletes the oldest checkpoint *before* writing the new one with
    a plain ``open(path, 'wb')``: a crash in between (or with
    ``max_keep_ckpts=1``) leaves none, or a truncated newest one. Here the
    new checkpoint goes to ``<name>.partial``, is flushed to disk and renamed
    (atomic on POSIX), ``last_checkpoint`` is replaced the same way, and only
    then are checkpoints beyond ``max_keep_ckpts`` deleted. Other storage
    backends keep mmengine's behaviour. ``tools/train.py`` puts this hook in
    place of ``CheckpointHook`` (same arguments).
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale: List[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename + PARTIAL_SUFFIX,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        _commit(self.last_ckpt)
        last = osp.join(runner.work_dir, LAST_CHECKPOINT)
        with open(last + PARTIAL_SUFFIX, 'w') as f:
            f.write(self.last_ckpt)
        _commit(last)
        for old in stale:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path) and path != self.last_ckpt:
                os.remove(path)


def use_safe_checkpoint_hook(cfg) -> None:
    """Swap mmengine's ``CheckpointHook`` in ``default_hooks`` for
    :class:`SafeCheckpointHook` (same arguments)."""
    hook = cfg.get('default_hooks', {}).get('checkpoint')
    if hook is not None and hook.get('type') in ('CheckpointHook',
                                                 CheckpointHook):
        hook['type'] = 'SafeCheckpointHook'


def find_resumable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest complete checkpoint of ``work_dir`` to resume from.

    The file ``last_checkpoint`` names is looked up in ``work_dir`` first,
    so a work dir that was moved resumes from its own files, then at the
    recorded path (a custom ``out_dir``); then every ``*.pth`` of the
    folder, newest first. A file that is truncated, corrupt or refused by
    :func:`~mmagent.utils.checkpoint.inspect_checkpoint` is skipped.

    Returns:
        ``(path or None, [(skipped path, reason), ...])``.
    """
    candidates = []
    last = osp.join(work_dir, LAST_CHECKPOINT)
    if osp.isfile(last):
        with open(last) as f:
            named = f.read().strip()
        if named:
            # this folder's own file first (the work dir may have moved),
            # then where it was written (a custom out_dir)
            candidates.append(osp.join(work_dir, osp.basename(named)))
            if osp.isfile(named):
                candidates.append(named)
    candidates += sorted(glob.glob(osp.join(work_dir, '*.pth')),
                         key=osp.getmtime, reverse=True)
    skipped, seen = [], set()
    for path in candidates:
        path = osp.abspath(path)
        if path in seen:
            continue
        seen.add(path)
        if not osp.isfile(path):
            skipped.append((path, 'missing'))
            continue
        try:
            return inspect_checkpoint(path), skipped
        except CheckpointLoadError as e:
            skipped.append((path, str(e)))
    return None, skipped


def check_checkpoints(cfg, resume: Optional[str] = None) -> None:
    """Settle what a training run starts from, before anything is built.

    ``resume='auto'`` resumes from :func:`find_resumable_checkpoint` of the
    work dir (saying which newer files were skipped and why), or starts
    afresh when there is none; a path resumes from that file. That file, or
    the config's ``load_from``, is checked with
    :func:`~mmagent.utils.checkpoint.inspect_checkpoint`: a missing,
    truncated or unsafe one raises :class:`CheckpointLoadError` now rather
    than after the model and dataloaders are built; a resumed run takes the
    checkpoint's seed (:func:`~mmagent.engine.resume.take_seed_of_checkpoint`).
    Also swaps in :class:`SafeCheckpointHook`.
    """
    use_safe_checkpoint_hook(cfg)
    if resume == 'auto':
        path, skipped = find_resumable_checkpoint(cfg.work_dir)
        for bad, reason in skipped:
            print(f'not resuming from {bad}: {reason}')
        if path is None:
            # the config's own load_from (a fine-tune's start) still holds
            print(f'--resume: no complete checkpoint in {cfg.work_dir}; '
                  f'training starts from the beginning')
            cfg.resume = False
        else:
            if skipped:
                print(f'resuming from {path} instead of {skipped[0][0]}')
            cfg.resume, cfg.load_from = True, path
            take_seed_of_checkpoint(cfg, path)
            return  # already inspected
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if cfg.get('load_from') and '://' not in str(cfg.load_from):
        cfg.load_from = inspect_checkpoint(cfg.load_from)
        if cfg.get('resume'):
            take_seed_of_checkpoint(cfg, cfg.load_from)
