# Copyright (c) mmagent contributors. All rights reserved.
from mmengine.registry import MODELS
from mmseg.models.data_preprocessor import SegDataPreProcessor

from ..layers.padding import mark_image_sizes


@MODELS.register_module()
class PaddingAwareSegDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` that also records each image's
    ``img_shape`` (its size before the padding to the crop size) on the
    batch, so a backbone that supports it keeps the padding out of its
    attention. Takes the same arguments."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        samples = data.get('data_samples')
        if samples:
            mark_image_sizes(data['inputs'],
                             [s.img_shape[:2] for s in samples])
        return data
