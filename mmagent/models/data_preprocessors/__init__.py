# Copyright (c) mmagent contributors. All rights reserved.
"""The data preprocessors of earlier releases, which recorded each image's
size on the batch tensor: replaced by the models of
:mod:`mmagent.models.dense`, which hand the data samples' ``img_shape`` to
the backbone. The old names stay registered to say so."""


def replaced(name: str, task_module: str, example: str):
    """A registered stand-in for ``name`` that refuses with what to write
    instead."""

    def __init__(self, *args, **kwargs):
        raise TypeError(
            f'{name} was replaced: use the task library\'s own data '
            f'preprocessor with the model type {example} (any '
            f'PaddingAware<Model>), imported by custom_imports='
            f"dict(imports=['mmagent', 'mmagent.models.dense.{task_module}'"
            f']); see configs/_base_/flatten.py')

    return type(name, (), {'__init__': __init__,
                           '__doc__': f'Stand-in for the replaced {name}.'})
