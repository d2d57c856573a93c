# Copyright (c) mmagent contributors. All rights reserved.
"""Reading checkpoints of every flavour mmagent meets, safely.

- mmengine checkpoints: ``{'meta', 'state_dict', 'message_hub', ...}``, with
  numpy scalars/arrays and ``HistoryBuffer`` objects;
- official Agent-Attention ImageNet checkpoints: ``{'model': ..., 'config':
  <yacs CfgNode>, ...}``, readable without ``yacs``;
- official mmdet 2.x / mmseg 0.x checkpoints (``state_dict`` with
  ``backbone.`` prefixes) and bare state dicts.

Unpickling a file can run any code it names, so every checkpoint is read
with torch's ``weights_only`` unpickler and an explicit allow-list of the
types these formats really contain (:func:`allowed_globals`). A file that
names anything else is refused with :class:`UnsafeCheckpointError` before
any of it runs. Full unpickling happens only when the user trusts the file:
``trusted=True`` in the API, ``--trust-checkpoint`` on the tools and demos,
or the environment variable ``MMAGENT_TRUST_CHECKPOINTS=1``; a warning then
names the file.
"""
import argparse
import contextlib
import os
import os.path as osp
import pickle
import re
import types
import warnings
import zipfile
from collections import OrderedDict
from typing import Mapping, Optional

import torch

# Keys under which training frameworks nest the weights, most specific first.
STATE_DICT_KEYS = ('state_dict', 'model', 'module')

#: ``1``/``true``/``yes``: every checkpoint is trusted (full unpickling).
TRUST_ENV = 'MMAGENT_TRUST_CHECKPOINTS'


class CheckpointLoadError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint whose pickle names a global outside the allow-list."""


class OfficialConfigNode:
    """Stands in for ``yacs.config.CfgNode``, the config pickled into the
    official ImageNet checkpoints, without importing or running anything:
    it is rebuilt as an ``OrderedDict`` of its items with the pickled
    attributes, the one dict type torch's restricted unpickler both fills
    and gives a state."""

    def __new__(cls, *args, **kwargs):
        return OrderedDict()


def _history_buffer_getattr(obj, name):
    """``getattr`` as mmengine's pickled ``HistoryBuffer`` uses it (its
    statistics methods are pickled as ``getattr(HistoryBuffer, 'mean')``):
    only public methods of ``HistoryBuffer``."""
    from mmengine.logging import HistoryBuffer
    if obj is not HistoryBuffer or name.startswith('_') or not callable(
            getattr(HistoryBuffer, name, None)):
        raise pickle.UnpicklingError(
            f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')
    return getattr(HistoryBuffer, name)


def allowed_globals() -> list:
    """What a checkpoint may name besides tensors and Python containers:
    numpy scalars, arrays and dtypes (numpy 1.x and 2.x paths), mmengine's
    ``HistoryBuffer`` (message hub) and the official yacs config stand-in.
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer
    multiarray = np.core.multiarray
    # numpy>=1.25 builds each dtype as an instance of its own class
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
                     if name.endswith('DType')] if hasattr(np, 'dtypes') \
        else []
    return [
        np.dtype, *dtype_classes, np.ndarray, multiarray.scalar,
        multiarray._reconstruct,
        (multiarray.scalar, 'numpy._core.multiarray.scalar'),
        (multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
        (OfficialConfigNode, 'yacs.config.CfgNode'),
    ]


def is_trusted(trusted: Optional[bool] = None) -> bool:
    """``trusted`` if given, else whether :data:`TRUST_ENV` is set."""
    if trusted is not None:
        return trusted
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true',
                                                             'yes')


@contextlib.contextmanager
def trust_checkpoints(trusted: bool = True):
    """Within the block, checkpoints loaded anywhere in this process
    (mmengine's loaders included) are fully unpickled when ``trusted``."""
    old = os.environ.get(TRUST_ENV)
    if trusted:
        os.environ[TRUST_ENV] = '1'
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(TRUST_ENV, None)
        else:
            os.environ[TRUST_ENV] = old


class _MissingClass(dict):
    """Stands in, when a trusted file is fully unpickled, for a pickled
    class whose module is not installed (e.g. ``yacs.config.CfgNode``)."""

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

# What torch's weights_only unpickler says when a file names a global, or
# calls something, outside the allow-list.
_REFUSAL = re.compile(r'GLOBAL (\S+)|unrecognized function (.+?)(?: which|$)'
                      r'|allowlisted.*?got (.+)$', re.M)


def torch_load(filename, map_location='cpu', trusted: Optional[bool] = None,
               mmap: bool = False):
    """``torch.load`` with the allow-list of :func:`allowed_globals`, or
    full unpickling (tolerant of classes that are not installed) when the
    file is trusted (see :func:`is_trusted`); ``mmap``: tensors mapped from
    the (zip-format) file rather than read.

    Raises:
        UnsafeCheckpointError: the file names a global outside the
            allow-list; nothing of it was executed.
    """
    if is_trusted(trusted):
        warnings.warn(
            f'{filename}: fully unpickling a trusted checkpoint '
            f'(trusted=True or {TRUST_ENV}=1); unpickling can run any code '
            f'the file names, so only do this for files you trust.')
        return torch.load(filename, map_location=map_location, mmap=mmap,
                          weights_only=False, pickle_module=lenient_pickle)
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(filename, map_location=map_location,
                              mmap=mmap, weights_only=True)
    except pickle.UnpicklingError as e:
        found = _REFUSAL.search(str(e))
        if found is None:
            raise
        what = next(g for g in found.groups() if g).strip()
        raise UnsafeCheckpointError(_refusal(filename, what)) from None


def _refusal(filename, what: str) -> str:
    return (f'{filename} was refused: its pickle needs {what}, which is not '
            f'one of the types checkpoints are made of (tensors, numbers, '
            f'strings, containers, numpy arrays, mmengine HistoryBuffer, the '
            f'official yacs config). Unpickling it could run code. If you '
            f'trust this file, pass --trust-checkpoint (tools and demos), '
            f'trusted=True (API) or set {TRUST_ENV}=1.')


class TrustCheckpointAction(argparse.Action):
    """``--trust-checkpoint``: fully unpickle every checkpoint this process
    loads (sets :data:`TRUST_ENV`, so mmengine's loaders follow)."""

    def __init__(self, option_strings, dest, **kwargs):
        kwargs.setdefault(
            'help', 'fully unpickle checkpoints (they can run code): only '
            'for files you trust; by default only the types checkpoints '
            f'are made of load (same as {TRUST_ENV}=1)')
        super().__init__(option_strings, dest, nargs=0, default=False,
                         **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        os.environ[TRUST_ENV] = '1'
        setattr(namespace, self.dest, True)


def _allowed_names() -> set:
    names = set()
    for item in allowed_globals():
        if isinstance(item, tuple):
            names.add(item[1])
        else:
            names.add(f'{item.__module__}.{item.__qualname__}')
    return names


def inspect_checkpoint(filename: str, trusted: Optional[bool] = None) -> str:
    """Check a local checkpoint without unpickling it, before any work
    starts: it exists, its zip archive is complete (every member's CRC
    reads back) and it names no global outside the allow-list (unless
    trusted). Returns the absolute path; raises :class:`CheckpointLoadError`
    (:class:`UnsafeCheckpointError`) naming the file otherwise. Files in
    torch's legacy (non-zip) format are read in full instead."""
    filename = osp.abspath(osp.expanduser(str(filename)))
    if not osp.isfile(filename):
        raise CheckpointLoadError(f'checkpoint not found: {filename}')
    if not zipfile.is_zipfile(filename):
        load_checkpoint_file(filename, trusted=trusted)
        return filename
    try:
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        bad = f'{type(e).__name__}: {e}'
    if bad is not None:
        raise CheckpointLoadError(
            f'{filename} is incomplete or corrupt (truncated while being '
            f'written?): {bad}')
    if not is_trusted(trusted):
        unsafe = [
            g for g in torch.serialization.get_unsafe_globals_in_checkpoint(
                filename) if g not in _allowed_names()
        ]
        if unsafe:
            raise UnsafeCheckpointError(_refusal(filename, unsafe[0]))
    return filename


def checkpoint_meta(filename: str, trusted: Optional[bool] = None) -> dict:
    """The ``meta`` dict of a checkpoint (``{}`` when it has none), its
    tensors memory-mapped rather than read (zip-format files), through the
    same allow-list as :func:`torch_load`."""
    if not zipfile.is_zipfile(filename):
        ckpt = load_checkpoint_file(filename, trusted=trusted)
    else:
        ckpt = torch_load(filename, trusted=trusted, mmap=True)
    meta = ckpt.get('meta') if isinstance(ckpt, Mapping) else None
    return dict(meta) if isinstance(meta, Mapping) else {}


def load_checkpoint_file(filename: str, map_location='cpu',
                         trusted: Optional[bool] = None) -> Mapping:
    """Read a local checkpoint (see :func:`torch_load`), raising one
    :class:`CheckpointLoadError` that names the file for a missing,
    truncated, unsafe or non-checkpoint file."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointLoadError(f'checkpoint not found: {filename}')
    try:
        ckpt = torch_load(filename, map_location=map_location,
                          trusted=trusted)
    except UnsafeCheckpointError:
        raise
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
