# Copyright (c) mmagent contributors. All rights reserved.
"""The attention registry: every token mixer a backbone block can use, built
by name, and the official per-stage codes that select them.

A backbone family builds each block's attention with
:func:`build_attention`, handing it a *context*: everything the family knows
about that block (``embed_dims``, ``num_heads``, ``qkv_bias``, ``attn_drop``,
``proj_drop``, ``exact``, the stage's pretraining token grid
``pretrain_hw``, its ``sr_ratio`` or ``window_size``/``shift_size``, the
agent settings ...). Each attention kind takes from the context the
arguments its ``__init__`` names and leaves the rest, so a new kind needs no
change in any family: one file, one :func:`register_attention`, its tests.
"""
import inspect
from typing import Dict, List, Optional, Sequence

from mmengine.registry import Registry

ATTENTIONS = Registry('attention')

#: The kind name that stands for each family's own softmax attention
#: (PVT's spatial-reduction attention, Swin's shifted windows, ...).
SOFTMAX = 'softmax'

#: Official per-stage codes -> attention kind. ``'B'`` (Agent Attention's
#: repositories) and ``'S'`` (FLatten's) both mean the family's softmax
#: attention; the other codes are added by :func:`register_attention`.
STAGE_CODES: Dict[str, str] = {'B': SOFTMAX, 'S': SOFTMAX}

#: ``'M'`` in a stage string mixes kinds inside a stage: its first ``n``
#: blocks use the string's non-softmax kind, the others softmax; ``n`` is
#: the number after the per-stage codes (``'AAMB2'``).
MIXED = 'M'


def register_attention(name: str, code: Optional[str] = None):
    """Class decorator: register an attention kind under ``name`` and, if
    given, the one-letter per-stage ``code`` that selects it."""

    def decorator(cls):
        if code is not None:
            if len(code) != 1 or not code.isalpha() or code == MIXED:
                raise ValueError(f'attention code must be one letter other '
                                 f'than {MIXED!r}, got {code!r}')
            if STAGE_CODES.get(code, name) != name:
                raise ValueError(f'attention code {code!r} already means '
                                 f'{STAGE_CODES[code]!r}')
            STAGE_CODES[code] = name
        return ATTENTIONS.register_module(name=name)(cls)

    return decorator


def parse_block_codes(attn_type: str,
                      depths: Sequence[int]) -> List[List[str]]:
    """Per-block codes of every stage from an official ``attn_type``.

    ``attn_type`` has one code per stage (``'AAAB'``, ``'LLSS'``); ``'M'``
    makes the first ``n`` blocks of that stage use the string's non-softmax
    code and the rest softmax, with ``n`` written after the stage codes
    (``'AAMB2'``: stage 3 starts with 2 agent blocks).
    """
    num_stages = len(depths)
    head, tail = attn_type[:num_stages], attn_type[num_stages:]
    known = set(STAGE_CODES) | {MIXED}
    leading = sorted({c for c in head
                      if c in STAGE_CODES and STAGE_CODES[c] != SOFTMAX})
    softmax = next((c for c in head if STAGE_CODES.get(c) == SOFTMAX), 'B')
    valid = (len(head) == num_stages and not set(head) - known
             and (MIXED in head) == bool(tail)
             and (not tail or (tail.isdigit() and len(leading) == 1)))
    if not valid:
        codes = '/'.join(repr(c) for c in sorted(STAGE_CODES))
        raise ValueError(
            f'attn_type needs one code per stage ({num_stages} stages) out '
            f"of {codes}, or 'M' followed at the end by how many of that "
            f"stage's blocks use the other stages' non-softmax kind (e.g. "
            f"'AAMB2'), got {attn_type!r}")
    types = []
    for code, depth in zip(head, depths):
        if code == MIXED:
            types.append([leading[0] if j < int(tail) else softmax
                          for j in range(depth)])
        else:
            types.append([code] * depth)
    return types


def block_kinds(attn_type: str, depths: Sequence[int],
                softmax_kind: str) -> List[List[str]]:
    """Registered attention kind of every block: :func:`parse_block_codes`
    mapped through :data:`STAGE_CODES`, with the softmax codes resolved to
    the family's ``softmax_kind``."""
    return [[softmax_kind if STAGE_CODES[c] == SOFTMAX else STAGE_CODES[c]
             for c in stage] for stage in parse_block_codes(attn_type, depths)]


def build_attention(kind: str, context: dict,
                    options: Optional[dict] = None):
    """Build the attention ``kind`` for one block.

    Args:
        kind (str): A registered name (``'agent'``, ``'window'``, ...).
        context (dict): What the family knows about the block; the kind
            takes the entries its ``__init__`` names.
        options (dict, optional): Extra keyword arguments for this kind
            (a backbone's ``attn_cfgs[kind]``); every one must be accepted.
    """
    cls = ATTENTIONS.get(kind)
    if cls is None:
        raise KeyError(f'unknown attention kind {kind!r}; registered: '
                       f'{sorted(ATTENTIONS.module_dict)}')
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in context.items() if k in params}
    kwargs.update(options or {})
    missing = [
        name for name, p in params.items()
        if name != 'self' and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and name not in kwargs
    ]
    if missing:
        raise ValueError(
            f'attention {kind!r} ({cls.__name__}) needs {missing}, which '
            f'this backbone does not provide (it provides '
            f'{sorted(context)}); pass them through attn_cfgs='
            f'{{{kind!r}: {{...}}}}')
    return cls(**kwargs)
