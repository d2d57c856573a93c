"""Test-only hooks for tests/test_engine/test_crash_safe_training.py
(imported by the training subprocess through custom_imports; tests/ is on
its PYTHONPATH)."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillWhileSaving(Hook):
    """``kill -9`` of this process in the middle of writing the checkpoint
    of ``iteration``: the file backend's write puts the first half of the
    checkpoint's bytes on disk, then the process dies."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] != self.iteration:
            return
        from mmengine.fileio.backends.local_backend import LocalBackend

        def dying_put(backend, obj, filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
                os.kill(os.getpid(), signal.SIGKILL)

        LocalBackend.put = dying_put


@HOOKS.register_module()
class KillRank(Hook):
    """``kill -9`` of the process of ``rank`` after ``iteration``, in the
    first attempt only (not after torchrun restarted the group)."""

    def __init__(self, rank, iteration):
        self.rank, self.iteration = rank, iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        restarts = int(os.environ.get('TORCHELASTIC_RESTART_COUNT', 0))
        if runner.rank == self.rank and runner.iter + 1 == self.iteration \
                and restarts == 0:
            os.kill(os.getpid(), signal.SIGKILL)
