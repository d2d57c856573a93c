# Copyright (c) mmagent contributors. All rights reserved.
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmengine.registry import MODELS

from ..layers.padding import mark_image_sizes


@MODELS.register_module()
class PaddingAwareDetDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that also records each image's
    ``img_shape`` (its size before the batch padding) on the batch, so a
    backbone that supports it keeps the padding out of its attention: an
    image's features do not depend on the other images of its batch.
    Takes the same arguments."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        samples = data.get('data_samples')
        if samples:
            mark_image_sizes(data['inputs'],
                             [s.img_shape[:2] for s in samples])
        return data
