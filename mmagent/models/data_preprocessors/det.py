# Copyright (c) mmagent contributors. All rights reserved.
from mmengine.registry import MODELS

from . import replaced

MODELS.register_module(module=replaced(
    'PaddingAwareDetDataPreprocessor', 'det', 'PaddingAwareMaskRCNN'))
