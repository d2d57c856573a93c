# Copyright (c) mmagent contributors. All rights reserved.
"""Classifiers on top of mmpretrain's (``distill.py``: training against a
frozen teacher). Imported by the configs that use them
(``custom_imports``), so ``import mmagent`` does not load mmpretrain."""
