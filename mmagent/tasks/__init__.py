# Copyright (c) mmagent contributors. All rights reserved.
"""One adapter per task; a config's ``default_scope`` picks it."""
from .base import TASKS, Task, get_task, register_task
from .cls import ClassificationTask
from .det import DetectionTask
from .seg import SegmentationTask

__all__ = [
    'TASKS', 'Task', 'get_task', 'register_task', 'ClassificationTask',
    'DetectionTask', 'SegmentationTask'
]
