# Copyright (c) mmagent contributors. All rights reserved.
"""BiViT binarization of a built backbone, driven by config.

``backbone=dict(type='BiViT', backbone=dict(type='AgentSwinTransformer',
...), attn=True, mlp=False)`` builds the inner backbone, then
:func:`binarize_backbone` turns every softmax attention module (Swin's
window blocks, PVT's spatial-reduction blocks, DeiT's blocks) into its
binary version: PWS binary ``qkv``/``q``/``kv``/``proj`` with binary inputs,
binary Q/K/V, and softmax-aware binarization (SAB) of the attention map,
whose logits get the relative position bias and the shift mask in full
precision first. ``mlp=True`` also gives the MLPs PWS binary weights (their
activations stay full precision, the paper's ImageNet setting);
``mlp='deferred'`` builds them disabled, for
:class:`~mmagent.engine.CrossLayerBinarizationHook` to enable at its second
stage (the paper's CLB). Patch
embeddings, merging, norms, biases, ``alpha`` and everything outside the
backbone stay full precision, as in the paper. The parameter names do not
change (``alpha`` and the buffers ``alpha_initialized`` and
``binary_enabled`` are added), so a full-precision checkpoint initialises
the binary model.

``agent=True`` (experimental: not in the paper, no published result)
also binarizes agent attention: binary Q/K/V and agents (the sign of the
pooled binary queries), SAB on both of its softmax maps, each binary map
divided by its row's number of ones, because neither map is followed by a
binary projection: ``agents -> V`` feeds the second map and
``queries -> agents`` is added to the DWC of V, whose balance an
unnormalised row count would change. Its ``qkv``/``q``/``kv``/``proj`` get
PWS weights (a CSWin block's own projections stay full precision).

Focused linear attention has no softmax map and is left as it is; a
backbone without any attention to binarize is refused.

``deploy=True`` (or :func:`switch_to_deploy` on a trained model) is the
inference form: every binary layer becomes a
:class:`~mmagent.models.layers.binary.DeployedBinaryLinear` (int8 signs;
binary inputs through an int8 x int8 -> int32 GEMM), with outputs identical
to the fake-quantized model's. Its checkpoints are the fake-quantized
model's (``bivit_pack.py unpack`` files included), so ``--cfg-options
model.backbone.deploy=True`` deploys any BiViT config.
"""
from typing import Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .layers.attention import ATTENTIONS, register_attention
from .layers.attention.agent import AgentAttention
from .layers.attention.common import fp32_logits
from .layers.attention.global_softmax import GlobalAttention
from .layers.attention.spatial_reduction import SpatialReductionAttention
from .layers.attention.window import WindowAttention
from .layers.binary import (SAB_BETA, BinaryLinear, DeployedBinaryLinear,
                            binary_sign, softmax_aware_binarize)
from .layers.transformer_block import Mlp


def _binary_attention(attn, q: torch.Tensor, k: torch.Tensor,
                      v: torch.Tensor, bias=None) -> torch.Tensor:
    """``SAB(q k^T * scale + bias) @ v`` on binary q, k, v ``(B, h, N, d)``
    (their projections' outputs are signed: ``binary_output``); the map is
    {0, 1}, not row-normalised: the binary ``proj`` takes the sign of its
    input, so the row scale does not matter."""
    with fp32_logits(q, k) as (q_, k_):
        logits = (q_ * attn.scale) @ k_.transpose(-2, -1)
        if bias is not None:  # in place: backward needs no product
            logits = logits.add_(bias)
        binary_map = softmax_aware_binarize(logits, attn.sab_beta)
    return binary_map.to(v.dtype) @ v


#: A kind ``k``'s binary version is registered as ``'binary_' + k``.
PREFIX = 'binary_'


class BinaryKind:
    """Mixin of the binary kinds: after the full-precision kind's
    ``__init__``, its :attr:`binary_linears` become PWS
    :class:`BinaryLinear` layers (signed outputs for
    :attr:`binary_outputs`), with the same parameter names; ``sab_beta`` is
    SAB's threshold factor."""
    binary_linears = ()
    binary_outputs = ()

    def __init__(self, *args, sab_beta: float = SAB_BETA, **kwargs):
        super().__init__(*args, **kwargs)
        self.sab_beta = sab_beta
        for name in self.binary_linears:
            setattr(self, name, BinaryLinear.from_float(
                getattr(self, name),
                binary_output=name in self.binary_outputs))


@register_attention(PREFIX + 'window')
class BinaryWindowAttention(BinaryKind, WindowAttention):
    """:class:`WindowAttention` with BiViT binarization (see module)."""
    binary_linears = ('qkv', 'proj')
    binary_outputs = ('qkv',)

    def attend_heads(self, q, k, v, mask):
        return _binary_attention(self, q, k, v,
                                 self.logit_bias(mask, q.shape[0]))


@register_attention(PREFIX + 'spatial_reduction')
class BinarySpatialReductionAttention(BinaryKind, SpatialReductionAttention):
    """:class:`SpatialReductionAttention` with BiViT binarization; the
    reduction conv and its norm stay full precision."""
    binary_linears = ('q', 'kv', 'proj')
    binary_outputs = ('q', 'kv')

    def attend_heads(self, q, k, v):
        return _binary_attention(self, q, k, v)


@register_attention(PREFIX + 'global')
class BinaryGlobalAttention(BinaryKind, GlobalAttention):
    """:class:`GlobalAttention` (DeiT) with BiViT binarization."""
    binary_linears = ('qkv', 'proj')
    binary_outputs = ('qkv',)

    def attend_heads(self, q, k, v):
        return _binary_attention(self, q, k, v)


@register_attention(PREFIX + 'agent')
class BinaryAgentAttention(BinaryKind, AgentAttention):
    """:class:`AgentAttention` with SAB on both maps (experimental; see the
    module docstring)."""

    @property
    def binary_linears(self):
        if self.fused_qkv is None:  # CSWin: the block owns the projections
            return ()
        return ('qkv', 'proj') if self.fused_qkv else ('q', 'kv', 'proj')

    def _binary_map(self, a, b, bias):
        """SAB of ``a b^T * scale + bias``, rows divided by their count."""
        with fp32_logits(a, b) as (a_, b_):
            logits = (a_ * self.scale) @ b_.transpose(-2, -1) + bias
            binary_map = softmax_aware_binarize(logits, self.sab_beta)
        return binary_map / binary_map.sum(-1, keepdim=True)

    def attend(self, q, k, v, hw_shape):
        hw = (int(hw_shape[0]), int(hw_shape[1]))
        q, k, v = binary_sign(q), binary_sign(k), binary_sign(v)
        agents = binary_sign(self.pool_agents(q, hw))
        q, k, v, agents = (self._split_heads(t) for t in (q, k, v, agents))
        agent_bias, token_bias = self.position_biases(hw, torch.float32)
        agent_v = self._binary_map(agents, k, agent_bias).to(v.dtype) @ v
        out = self._binary_map(q, agents, token_bias).to(v.dtype) @ agent_v
        return self.add_dwc(out, v, hw)


# what a binary layer adds to a full-precision one (a full-precision
# checkpoint lacks them)
BINARY_BUFFERS = ('alpha', 'alpha_initialized', 'binary_enabled')
BINARY_OPTIONAL_KEYS = tuple(rf'.*\.{name}' for name in BINARY_BUFFERS)


def _binary_kind(module: nn.Module, beta: float) -> nn.Module:
    """The registered binary kind of the attention ``module`` (built by
    :func:`~mmagent.models.layers.build_attention`, as in every mmagent
    backbone), built with the same arguments, holding its weights, with its
    mode, device, dtype, frozen parameters and forward hooks."""
    kind, kwargs = module.built_as
    # its own random init is overwritten: leave the global RNG as it was
    with torch.random.fork_rng(devices=[]):
        binary = ATTENTIONS.get(PREFIX + kind)(**kwargs, sab_beta=beta)
    binary.built_as = (PREFIX + kind, dict(kwargs, sab_beta=beta))
    incompatible = binary.load_state_dict(module.state_dict(), strict=False)
    added = [k for k in incompatible.missing_keys
             if k.rsplit('.', 1)[-1] not in BINARY_BUFFERS]
    if added or incompatible.unexpected_keys:
        raise RuntimeError(f'{type(binary).__name__} does not hold the '
                           f'weights of {type(module).__name__}: '
                           f'{added + incompatible.unexpected_keys}')
    frozen = {n for n, p in module.named_parameters() if not p.requires_grad}
    for n, p in binary.named_parameters():
        p.requires_grad_(n not in frozen)
    param = next(module.parameters(), None)
    if param is not None:
        binary.to(device=param.device, dtype=param.dtype)
    for hooks in ('_forward_pre_hooks', '_forward_hooks'):
        getattr(binary, hooks).update(getattr(module, hooks))
    return binary.train(module.training)


def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Replace, in place, every enabled :class:`BinaryLinear` of ``model``
    by its :class:`DeployedBinaryLinear` (layers still disabled by
    cross-layer binarization stay as they are); returns ``model``, with
    ``binarized['deploy']`` set where the backbone records its options."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, BinaryLinear) and child._enabled:
                setattr(module, name, DeployedBinaryLinear.from_binary(child))
        if isinstance(getattr(module, 'binarized', None), dict):
            module.binarized['deploy'] = True
    return model


def binarize_backbone(backbone: nn.Module, attn: bool = True,
                      mlp: Union[bool, str] = False,
                      beta: float = SAB_BETA,
                      agent: bool = False,
                      deploy: bool = False) -> nn.Module:
    """Binarize ``backbone`` in place (see the module docstring) and return
    it. ``attn``: the softmax attention modules; ``mlp``: PWS binary weights
    in every :class:`~mmagent.models.layers.Mlp` (``True``), or built
    disabled for cross-layer binarization (``'deferred'``); ``beta``: SAB's
    threshold factor (0.25 in the paper); ``agent``: agent attention too
    (experimental); ``deploy``: the inference form (every binary layer,
    deferred MLPs included, as :class:`DeployedBinaryLinear`)."""
    if mlp not in (False, True, 'deferred'):
        raise ValueError(f"mlp must be False, True or 'deferred', got "
                         f'{mlp!r}')
    if not (attn or mlp):
        raise ValueError('binarize_backbone: nothing to binarize, set attn '
                         'and/or mlp')
    if not 0 < beta <= 1:
        raise ValueError(f'beta (the SAB threshold factor) must be in (0, 1], '
                         f'got {beta}')
    attentions = mlps = 0
    for parent in list(backbone.modules()):
        for name, module in list(parent.named_children()):
            kind = getattr(module, 'built_as', ('', ))[0]
            if attn and (kind != 'agent' or agent) and \
                    PREFIX + kind in ATTENTIONS.module_dict:
                setattr(parent, name, _binary_kind(module, beta))
                attentions += 1
        if mlp and isinstance(parent, Mlp):
            for name in ('fc1', 'fc2'):
                layer = BinaryLinear.from_float(
                    getattr(parent, name), binary_input=False,
                    enabled=mlp is True or deploy)
                layer.clb_stage = 2 if mlp == 'deferred' else None
                setattr(parent, name, layer)
            mlps += 1
    if attn and not attentions:
        raise ValueError(
            f'{type(backbone).__name__} has no softmax attention module to '
            f'binarize (BiViT binarizes softmax attention maps: window, '
            f'spatial-reduction or global blocks, attn_type codes B/S, and '
            f'agent blocks with agent=True); focused linear blocks are not '
            f'binarized')
    if mlp and not mlps:
        raise ValueError(f'{type(backbone).__name__} has no Mlp to binarize')
    backbone.optional_keys = (*getattr(backbone, 'optional_keys', ()),
                              *BINARY_OPTIONAL_KEYS)
    backbone.binarized = dict(attn=attn, mlp=mlp, beta=beta, agent=agent,
                              attention_modules=attentions, mlps=mlps,
                              deploy=False)
    return switch_to_deploy(backbone) if deploy else backbone


@MODELS.register_module(name='BiViT')
def build_binarized_backbone(backbone: dict, attn: bool = True,
                             mlp: Union[bool, str] = False,
                             beta: float = SAB_BETA,
                             agent: bool = False,
                             deploy: bool = False) -> nn.Module:
    """Config entry ``dict(type='BiViT', backbone=dict(...), attn=True,
    mlp=False, beta=0.25, agent=False, deploy=False)``: the inner backbone,
    built and binarized by :func:`binarize_backbone`. The result is the
    inner backbone's class, with its parameter names."""
    return binarize_backbone(MODELS.build(backbone), attn=attn, mlp=mlp,
                             beta=beta, agent=agent, deploy=deploy)
