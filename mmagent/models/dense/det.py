# Copyright (c) mmagent contributors. All rights reserved.
"""``PaddingAware<Detector>``: mmdet's detectors with
:class:`~mmagent.models.dense.HandsImageSizes` (``PaddingAwareMaskRCNN``,
``PaddingAwareCascadeRCNN``, ``PaddingAwareRetinaNet`` ...); same arguments
and state dict as the detector they extend."""
import inspect

from mmdet.models import detectors
from mmdet.models.detectors import BaseDetector
from mmengine.registry import MODELS

from . import HandsImageSizes

for _name in detectors.__all__:
    _base = getattr(detectors, _name)
    # the detectors built around one backbone (not the semi-supervised
    # teachers and students)
    if isinstance(_base, type) and issubclass(_base, BaseDetector) and \
            'backbone' in inspect.signature(_base.__init__).parameters:
        MODELS.register_module(name=f'PaddingAware{_name}')(type(
            f'PaddingAware{_name}', (HandsImageSizes, _base), {
                '__doc__': f"mmdet's ``{_name}``; its backbone gets each "
                           f'image\'s size before padding.',
                '__module__': __name__}))
