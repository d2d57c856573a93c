# Copyright (c) mmagent contributors. All rights reserved.
"""Reading checkpoints of every flavour mmagent meets.

- mmengine checkpoints: ``{'meta', 'state_dict', 'message_hub', ...}``, with
  numpy scalars and ``HistoryBuffer`` objects that torch>=2.6's
  ``weights_only=True`` refuses;
- official Agent-Attention ImageNet checkpoints: ``{'model': ..., 'config':
  <yacs CfgNode>, ...}``, readable even where ``yacs`` is not installed;
- official mmdet 2.x / mmseg 0.x checkpoints (``state_dict`` with
  ``backbone.`` prefixes) and bare state dicts.

Checkpoints are trusted files (as with ``torch.load(weights_only=False)``);
do not load checkpoints from untrusted sources.
"""
import os.path as osp
import pickle
import types
from collections import OrderedDict
from typing import Mapping

import torch

# Keys under which training frameworks nest the weights, most specific first.
STATE_DICT_KEYS = ('state_dict', 'model', 'module')


class CheckpointLoadError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class _MissingClass(dict):
    """Stands in for a pickled class whose module is not installed (e.g.
    ``yacs.config.CfgNode`` inside the official checkpoints). It keeps the
    pickled items/state so nothing is lost, and is never needed for the
    weights themselves."""

    def __init__(self, *args, **kwargs):  # accept any constructor call
        super().__init__()

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)


class _LenientUnpickler(pickle.Unpickler):

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_MissingClass, ), {'__module__': module})


# ``torch.load(pickle_module=...)`` needs a module-like object.
lenient_pickle = types.SimpleNamespace(
    Unpickler=_LenientUnpickler,
    load=lambda f, **kw: _LenientUnpickler(f, **kw).load(),
    __name__='mmagent_lenient_pickle')


def torch_load(filename, map_location='cpu'):
    """``torch.load`` of a trusted file: full unpickling (torch>=2.6 defaults
    to ``weights_only=True``) and tolerant of classes that are not installed.
    """
    return torch.load(
        filename,
        map_location=map_location,
        weights_only=False,
        pickle_module=lenient_pickle)


def load_checkpoint_file(filename: str, map_location='cpu') -> Mapping:
    """Read a local checkpoint, raising one :class:`CheckpointLoadError`
    that names the file for a missing, truncated or non-checkpoint file."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointLoadError(f'checkpoint file not found: {filename}')
    try:
        ckpt = torch_load(filename, map_location=map_location)
    except Exception as e:  # torch raises many types for a bad file
        raise CheckpointLoadError(
            f'cannot read {filename} as a PyTorch checkpoint (truncated, '
            f'corrupt or not a checkpoint): {type(e).__name__}: {e}') from e
    if not isinstance(ckpt, Mapping):
        raise CheckpointLoadError(
            f'{filename} holds a {type(ckpt).__name__}, not a checkpoint '
            f'dict or state dict')
    return ckpt


def extract_state_dict(ckpt: Mapping, filename: str = '<checkpoint>',
                       prefix: str = None) -> 'OrderedDict[str, torch.Tensor]':
    """The tensors of a checkpoint, unwrapped and with prefixes removed.

    Unwraps ``state_dict``/``model``/``module``, strips ``module.`` (DDP).
    With ``prefix`` (e.g. ``'backbone.'``) only the keys under that prefix are
    kept; by default ``backbone.`` is used when any key carries it, so a
    detector/segmentor checkpoint initialises its backbone; ``prefix=''``
    keeps every key (whole-model checkpoints).
    """
    for key in STATE_DICT_KEYS:
        if isinstance(ckpt.get(key), Mapping):
            ckpt = ckpt[key]
            break
    bad = next((k for k, v in ckpt.items() if not isinstance(v, torch.Tensor)),
               None)
    if bad is not None or not ckpt:
        what = (f'entry {bad!r} is a {type(ckpt[bad]).__name__}'
                if bad is not None else 'it holds no tensors')
        raise CheckpointLoadError(
            f'{filename} is not a state dict or a checkpoint with one '
            f'under {"/".join(STATE_DICT_KEYS)}: {what}')
    state_dict = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in ckpt.items())
    if prefix is None and any(k.startswith('backbone.') for k in state_dict):
        prefix = 'backbone.'
    if prefix:
        state_dict = OrderedDict((k[len(prefix):], v)
                                 for k, v in state_dict.items()
                                 if k.startswith(prefix))
        if not state_dict:
            raise CheckpointLoadError(
                f'{filename} has no key starting with {prefix!r}')
    return state_dict
