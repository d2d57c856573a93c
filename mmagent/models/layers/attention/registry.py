# Copyright (c) mmagent contributors. All rights reserved.
"""The attention registry: every token mixer a backbone block can use, built
by name, and the official per-stage codes that select them.

A backbone family builds each block's attention with
:func:`build_attention`, handing it a *block context*: what the family knows
about that block, under the names :class:`BlockContext` declares
(``embed_dims``, ``num_heads``, the stage's pretraining token grid
``pretrain_hw``, its ``sr_ratio`` or ``window_size``/``shift_size``, the
agent settings ...). Each attention kind takes from the context the
arguments its ``__init__`` names; a key the context does not declare, or a
declared key without a default that a kind needs and the family does not
give, is an error naming the kind and the key, so a misspelt or forgotten
setting never falls back to a kind's own default. A new kind needs no change
in any family: one file, one :func:`register_attention`, its tests.
"""
import dataclasses
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

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


@dataclasses.dataclass(frozen=True)
class BlockContext:
    """The settings a family hands to the attention of each block.

    Fields without a default must be given by a family whose blocks use a
    kind that takes them; the defaults mean "this family has no such
    feature" (no spatial reduction, no shift, no class token, ...). A kind's
    own options that no family decides (``focusing_factor``,
    ``checkpoint_maps`` ...) are not context: they come from the backbone's
    ``attn_cfgs``.
    """
    #: Channels of the block.
    embed_dims: int
    #: Attention heads.
    num_heads: int
    #: The stage's token grid at the pretraining resolution.
    pretrain_hw: Tuple[int, int]
    #: Bias in the q/k/v projections.
    qkv_bias: bool
    #: Dropout on attention maps and after the output projection.
    attn_drop: float
    proj_drop: float
    #: The official operation order instead of the fast path.
    exact: bool
    #: How the kind gets q/k/v: one fused ``qkv`` projection (True),
    #: separate ``q``/``kv`` (False) or the block's own (None, CSWin).
    fused_qkv: Optional[bool]
    #: Agent attention: agents at pretraining, downstream agent grid, DWC
    #: kernel (also the focused linear DWC) and scale exponent.
    agent_num: int
    agent_shape: Tuple[int, int]
    kernel_size: int
    scale: float
    #: Swin's window side; CSWin's stripe width.
    window_size: int
    split_size: int
    qk_scale: Optional[float] = None
    sr_ratio: int = 1
    shift_size: int = 0
    #: Swin: shift windows of maps that fit in one window (downstream).
    pad_small_map: bool = True
    #: Leading tokens outside the map (DeiT's class token).
    num_extra_tokens: int = 0
    #: Official name of the agent DWC (CSWin calls it ``get_v``).
    dwc_name: str = 'dwc'
    #: CSWin's locally-enhanced positional encoding beside the DWC.
    lepe: bool = False
    #: CSWin stripe branch: 0 vertical, 1 horizontal, -1 the whole map.
    branch: int = -1


_CONTEXT_FIELDS = {f.name: f for f in dataclasses.fields(BlockContext)}


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
        context (dict): The block's :class:`BlockContext` entries; the kind
            takes those its ``__init__`` names.
        options (dict, optional): Keyword arguments for this kind that win
            over the context (a backbone's ``attn_cfgs[kind]``); every one
            must be accepted by the kind.
    """
    cls = ATTENTIONS.get(kind)
    if cls is None:
        raise KeyError(f'unknown attention kind {kind!r}; registered: '
                       f'{sorted(ATTENTIONS.module_dict)}')
    unknown = sorted(set(context) - set(_CONTEXT_FIELDS))
    if unknown:
        raise TypeError(
            f'attention {kind!r}: the block context has the unknown key '
            f'{unknown[0]!r} (BlockContext declares '
            f'{sorted(_CONTEXT_FIELDS)}); options of one kind go through '
            f'attn_cfgs={{{kind!r}: {{...}}}}')
    params = init_parameters(cls)
    options = dict(options or {})
    rejected = sorted(set(options) - set(params))
    if rejected:
        raise TypeError(f'attention {kind!r} ({cls.__name__}) takes no '
                        f'option {rejected[0]!r}; it takes {sorted(params)}')
    kwargs = {}
    for name, param in params.items():
        field = _CONTEXT_FIELDS.get(name)
        if name in options:
            kwargs[name] = options[name]
        elif field is not None and name in context:
            kwargs[name] = context[name]
        elif field is not None and field.default is not dataclasses.MISSING:
            kwargs[name] = field.default
        elif field is not None:
            raise ValueError(
                f'attention {kind!r} ({cls.__name__}) needs the block-context '
                f'key {name!r}, which this backbone does not give (it gives '
                f'{sorted(context)})')
        elif param.default is inspect.Parameter.empty:
            raise ValueError(
                f'attention {kind!r} ({cls.__name__}) needs {name!r}; pass '
                f'it through attn_cfgs={{{kind!r}: {{{name!r}: ...}}}}')
    attn = cls(**kwargs)
    # what it was built from, so that another kind (BiViT's binary ones)
    # can be built in its place
    attn.built_as = (kind, kwargs)
    return attn


def init_parameters(cls) -> Dict[str, inspect.Parameter]:
    """The named ``__init__`` parameters of an attention kind, those a
    subclass passes on through ``**kwargs`` included."""
    params = {}
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        more = False
        for name, p in inspect.signature(klass.__init__).parameters.items():
            if p.kind is p.VAR_KEYWORD:
                more = True
            elif name != 'self' and p.kind is not p.VAR_POSITIONAL:
                params.setdefault(name, p)
        if not more:
            break
    return params
