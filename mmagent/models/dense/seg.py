# Copyright (c) mmagent contributors. All rights reserved.
"""``PaddingAwareEncoderDecoder``: mmseg's ``EncoderDecoder`` with
:class:`~mmagent.models.dense.HandsImageSizes`; same arguments and state
dict."""
from mmengine.registry import MODELS
from mmseg.models.segmentors import EncoderDecoder

from . import HandsImageSizes


@MODELS.register_module()
class PaddingAwareEncoderDecoder(HandsImageSizes, EncoderDecoder):
    """mmseg's ``EncoderDecoder``; its backbone gets each image's size
    before the padding to the crop size."""
