# Copyright (c) mmagent contributors. All rights reserved.
"""Data preprocessors that record each image's size before padding on the
batch tensor, for backbones whose attention keeps padding out of its sums
(:mod:`mmagent.models.layers.padding`).

``det`` subclasses mmdet's, ``seg`` mmseg's; each is imported by the
configs that use it (``custom_imports``), so ``import mmagent`` pulls in
neither framework.
"""
