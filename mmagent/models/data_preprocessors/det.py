# Copyright (c) mmagent contributors. All rights reserved.
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.registry import MODELS

from ..layers.padding import RecordsImageSizes


@MODELS.register_module()
class PaddingAwareDetDataPreprocessor(RecordsImageSizes, DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that also records each image's
    ``img_shape`` (its size before the batch padding) on the batch, so a
    backbone that supports it keeps the padding out of its attention: an
    image's features do not depend on the other images of its batch.
    Takes the same arguments."""
