# Copyright (c) mmagent contributors. All rights reserved.
"""Detectors and segmentors that hand each image's size before the batch
padding to the backbone.

mmdet and mmseg pad a batch right/bottom to one size; each data sample's
``img_shape`` (its metainfo) keeps the size before padding. These models
pass those sizes to the backbone as ``valid_sizes``, so attention kinds that
support it keep the padding out of their sums and an image's features do
not depend on the other images of its batch (see
:mod:`mmagent.models.layers.padding`). ``det`` registers
``PaddingAware<Detector>`` for mmdet's detectors, ``seg``
``PaddingAwareEncoderDecoder``; each is imported by the configs that use it
(``custom_imports``), so ``import mmagent`` pulls in neither framework.
"""
from typing import List, Optional, Tuple


class HandsImageSizes:
    """Mixin for an mmdet detector or mmseg segmentor (before it in the
    bases): during each ``forward`` the backbone is called with
    ``valid_sizes``, the data samples' ``img_shape``, whenever it sees the
    whole padded batch (not, e.g., a sliding-window crop of it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        backbone = type(self.backbone)
        # declared by mmagent's backbones (AttentionBackbone); no other
        # backbone takes the sizes
        if not getattr(backbone, 'takes_valid_sizes', False):
            plain = next(base for base in type(self).__bases__
                         if base is not HandsImageSizes)
            raise TypeError(
                f'{type(self).__name__} hands each image\'s size to its '
                f'backbone, but {backbone.__name__}.forward takes no '
                f'valid_sizes (mmagent\'s PVT and Swin families do); use '
                f'{plain.__name__} instead')
        self._batch_sizes: Optional[Tuple[Tuple[int, int], List]] = None
        self.backbone.register_forward_pre_hook(self._add_valid_sizes,
                                                with_kwargs=True)

    def _add_valid_sizes(self, backbone, args, kwargs):
        if self._batch_sizes is not None and args and \
                tuple(args[0].shape[-2:]) == self._batch_sizes[0]:
            kwargs.setdefault('valid_sizes', self._batch_sizes[1])
        return args, kwargs

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if data_samples is not None and all(
                'img_shape' in s for s in data_samples):
            self._batch_sizes = (tuple(inputs.shape[-2:]), [
                tuple(int(v) for v in s.img_shape[:2]) for s in data_samples])
        try:
            return super().forward(inputs, data_samples, mode)
        finally:
            self._batch_sizes = None
