# Copyright (c) mmagent contributors. All rights reserved.
from mmengine.registry import MODELS
from mmseg.models.data_preprocessor import SegDataPreProcessor

from ..layers.padding import RecordsImageSizes


@MODELS.register_module()
class PaddingAwareSegDataPreProcessor(RecordsImageSizes, SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` that also records each image's
    ``img_shape`` (its size before the padding to the crop size) on the
    batch, so a backbone that supports it keeps the padding out of its
    attention. Takes the same arguments."""
