# Copyright (c) mmagent contributors. All rights reserved.
"""One bad sample must not throw away a long run."""
import copy
import logging
from typing import Optional

from mmengine.logging import print_log
from mmengine.registry import DATASETS

from ..utils.config import default_scope
from .wrapper import DatasetWrapper

ON_BAD_SAMPLE = ('skip', 'stop')


class BadSampleError(RuntimeError):
    """A sample that cannot be loaded or has invalid annotations, with
    ``on_bad_sample='stop'``; ``tools/train.py`` saves a checkpoint first."""


@DATASETS.register_module()
class BadSampleGuard(DatasetWrapper):
    """Wraps a dataset: a sample whose image or annotation cannot be read
    (missing or truncated file) or is invalid for the task (a label map
    value outside the classes, a non-finite or empty box; see
    :meth:`mmagent.tasks.Task.check_sample`) gets one message naming the
    file and the record instead of a traceback that ends the run.

    Args:
        dataset (dict | Dataset): The dataset (config) to guard.
        scope (str): ``default_scope`` of the config; picks the task check.
        on_bad_sample (str): ``'skip'``: log it with the count of skipped
            samples (per data-loading process) and serve the next sample;
            ``'stop'``: raise :class:`BadSampleError`.
        max_skips (int): Give up (as ``'stop'``) after this many skipped
            samples in one process. Default: 1000.
    """

    def __init__(self, dataset, scope: str, on_bad_sample: str = 'skip',
                 max_skips: int = 1000):
        if on_bad_sample not in ON_BAD_SAMPLE:
            raise ValueError(f'on_bad_sample must be one of {ON_BAD_SAMPLE}, '
                             f'got {on_bad_sample!r}')
        super().__init__(dataset)
        self.scope = scope
        self.on_bad_sample = on_bad_sample
        self.max_skips = max_skips
        self.skipped = 0

    def record(self, index: int) -> str:
        """The files of sample ``index``, for messages."""
        try:
            info = self.dataset.get_data_info(index)
        except Exception:  # the index itself is the record then
            return f'sample {index}'
        files = [str(info[k]) for k in ('img_path', 'seg_map_path')
                 if info.get(k)]
        return f'sample {index} ({", ".join(files) or "no file"})'

    def problem(self, index: int) -> tuple:
        """``(sample, None)``, or ``(None, what is wrong)``."""
        from ..tasks import get_task
        try:
            sample = self.dataset[index]
        except Exception as e:  # any reader or transform error
            return None, f'{type(e).__name__}: {e}'
        if sample is None:  # mmengine datasets refetch on None themselves
            return None, 'the pipeline returned no sample'
        issue = get_task(self.scope).check_sample(sample, self.dataset)
        return (None, issue) if issue else (sample, None)

    def __getitem__(self, index: int):
        for attempt in range(len(self)):
            current = (index + attempt) % len(self)
            sample, issue = self.problem(current)
            if issue is None:
                return sample
            message = f'bad {self.record(current)}: {issue}'
            if self.on_bad_sample == 'stop' or self.skipped >= \
                    self.max_skips:
                raise BadSampleError(message)
            self.skipped += 1
            print_log(f'{message} -> skipped ({self.skipped} bad samples '
                      f'skipped in this process)', logger='current',
                      level=logging.WARNING)
        raise BadSampleError(f'no readable sample left in {len(self)}')


def guard_training_data(cfg, on_bad_sample: Optional[str]) -> None:
    """Wrap ``train_dataloader.dataset`` in :class:`BadSampleGuard`."""
    loader = cfg.get('train_dataloader')
    if not loader or on_bad_sample is None:
        return
    loader['dataset'] = dict(
        type='BadSampleGuard', dataset=copy.deepcopy(loader['dataset']),
        scope=default_scope(cfg),
        on_bad_sample=on_bad_sample)


def stop_at_bad_sample(runner, error: BadSampleError) -> str:
    """Save a checkpoint of the run that met ``error`` (from a data-loading
    worker its text carries the worker's traceback: only the message is
    kept) and return what to tell the user."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    message = lines[-1].split('BadSampleError: ', 1)[-1] if lines else ''
    name = f'bad_sample_iter_{runner.iter}.pth'
    runner.save_checkpoint(runner.work_dir, name)
    return (f'stopped: {message}\nSaved {runner.work_dir}/{name}; fix or '
            f'remove that sample, then continue with --resume (or train '
            f'with --on-bad-sample skip).')
