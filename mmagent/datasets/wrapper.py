# Copyright (c) mmagent contributors. All rights reserved.
"""What every dataset wrapper of mmagent shares."""
from mmengine.registry import DATASETS


class DatasetWrapper:
    """Holds a dataset (built from its config if given one), has its length,
    and answers for it whatever the wrapper does not define itself
    (``metainfo``, ``get_data_info``, ...: mmdet's aspect-ratio sampler and
    the task libraries' hooks read them)."""

    def __init__(self, dataset):
        self.dataset = DATASETS.build(dataset) if isinstance(
            dataset, dict) else dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        # never recurse while unpickling (no ``dataset`` yet)
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)
