# Copyright (c) mmagent contributors. All rights reserved.
"""The quantizers of BiViT (He et al., "BiViT: Extremely Compressed Binary
Vision Transformers", ICCV 2023), simulated in floating point:

- :func:`binary_sign`: ``sign`` to {-1, +1} with the clipped
  straight-through estimator (gradient passed where ``|x| < 1``, else 0);
- :func:`softmax_aware_binarize` (SAB): the attention map
  ``1[softmax(a) >= beta * rowmax(softmax(a))]`` in {0, 1}, whose gradient
  is the softmax's (the straight-through estimator stops at the softmax
  output, not at the logits);
- :class:`BinaryLinear` (PWS): weights ``alpha * sign(W - rowmean(W))``
  with a learnable scale ``alpha`` per output channel, initialised to
  ``mean(|W|)`` of each row at the first forward; optionally binary inputs.

While training, values stay float tensors (fake quantization).
:class:`DeployedBinaryLinear` is the inference form of a trained
:class:`BinaryLinear`: int8 signs, and for binary inputs an int8 x int8 ->
int32 GEMM, with outputs identical to the fake-quantized layer's.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...utils.device_branches import branch_device

#: The paper's threshold factor (Eq. 11): a bit shift in hardware.
SAB_BETA = 0.25


def int8_signs(x: torch.Tensor) -> torch.Tensor:
    """``x`` to {-1, +1} as int8 (0 maps to +1)."""
    # the comparison's bytes reused in place: 7x faster on CPU than
    # torch.where with scalar branches
    return torch.ge(x, 0).view(torch.int8).mul_(2).sub_(1)


def float_signs(x: torch.Tensor) -> torch.Tensor:
    """``x`` to {-1., +1.} in its dtype (0 and -0 map to +1; NaN stays
    NaN, so a diverged run shows as such)."""
    # sign() gives -1/0/+1; shifting by a half before a second sign()
    # sends 0 to +1 in three fast elementwise passes
    return torch.sign(x).add_(0.5).sign_()


class _SignSTE(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return float_signs(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (x.abs() < 1).to(grad.dtype)


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """``x`` to {-1, +1} (0 maps to +1); gradient ``1[|x| < 1]``."""
    return _SignSTE.apply(x)


def sab_map(logits: torch.Tensor, beta: float = SAB_BETA) -> torch.Tensor:
    """SAB's map in ``logits``' dtype: ``1[p >= beta * max(p)]`` for
    ``p = softmax(logits)`` over the last dim, computed as ``logits >=
    max(logits) + ln(beta)`` (``p_i / max(p) = exp(a_i - max(a))``), which
    needs no exponential."""
    threshold = logits.amax(dim=-1, keepdim=True).add_(math.log(beta))
    if torch.compiler.is_compiling():
        return (logits >= threshold).to(logits.dtype)
    # eager: 0./1. written straight as floats (no boolean map to convert);
    # half the time of the two passes
    return torch.ge(logits, threshold, out=torch.empty_like(logits))


class _SoftmaxAwareBinarization(torch.autograd.Function):

    @staticmethod
    def forward(ctx, logits, beta):
        ctx.save_for_backward(logits)
        return sab_map(logits, beta)

    @staticmethod
    def backward(ctx, grad):
        logits, = ctx.saved_tensors
        probs = logits.softmax(dim=-1)  # recomputed: SAB's forward has none
        # the softmax's Jacobian-vector product: p * (g - <g, p>)
        dot = (grad * probs).sum(dim=-1, keepdim=True)
        return probs * (grad - dot), None


def softmax_aware_binarize(logits: torch.Tensor,
                           beta: float = SAB_BETA) -> torch.Tensor:
    """SAB over the last dim: forward ``1[p >= beta * max(p)]`` with
    ``p = softmax(logits)`` (every row keeps at least its maximum), backward
    the gradient of ``softmax(logits)``. Computed in fp32 for reduced
    precision logits, returned in their dtype."""
    dtype = logits.dtype
    if dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    with torch.autocast(logits.device.type, enabled=False):
        out = _SoftmaxAwareBinarization.apply(logits, float(beta))
    return out.to(dtype)


class BinaryLinear(nn.Linear):
    """``nn.Linear`` with PWS binary weights (same ``weight`` and ``bias``
    names, plus ``alpha``), for the layers BiViT binarizes.

    Args:
        in_features, out_features, bias: As ``nn.Linear``.
        binary_input (bool): Also binarize the input with
            :func:`binary_sign` (attention: Q/K/V and the projections'
            inputs); ``False`` keeps full-precision activations (the
            paper's MLPs). Default: True.

    ``alpha`` (``(out_features, 1)``) is set to ``mean(|W|)`` per row at the
    first binary forward unless ``alpha_initialized`` (a buffer saved in
    checkpoints) says it already holds trained values; the weight's sign
    uses the clipped straight-through estimator. While the
    ``binary_enabled`` buffer is False the layer is a plain full-precision
    linear: cross-layer binarization builds the MLPs' binary layers so and
    enables them at its second stage (the parameters exist from the start,
    so the optimizer and checkpoints cover them throughout).
    """

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True, binary_input: bool = True,
                 enabled: bool = True, binary_output: bool = False,
                 **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self.binary_input = binary_input
        self.binary_output = binary_output
        factory = dict(device=kwargs.get('device'))
        self.alpha = nn.Parameter(
            torch.zeros(out_features, 1, dtype=kwargs.get('dtype'),
                        **factory))
        self.register_buffer('alpha_initialized',
                             torch.tensor(False, **factory))
        self.register_buffer('binary_enabled',
                             torch.tensor(bool(enabled), **factory))
        # Python copies of the two flags: reading a GPU buffer in every
        # forward would synchronise the device
        self._alpha_ready, self._enabled = False, bool(enabled)

    def set_binary_enabled(self, enabled: bool) -> None:
        """Switch the binary weights on or off (CLB's stage 2)."""
        self.binary_enabled.fill_(bool(enabled))
        self._enabled = bool(enabled)

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._alpha_ready = bool(self.alpha_initialized)
        self._enabled = bool(self.binary_enabled)

    @classmethod
    def from_float(cls, linear: nn.Linear, binary_input: bool = True,
                   enabled: bool = True,
                   binary_output: bool = False) -> 'BinaryLinear':
        """A binary layer sharing ``linear``'s weight and bias tensors."""
        new = cls(linear.in_features, linear.out_features,
                  bias=linear.bias is not None, binary_input=binary_input,
                  enabled=enabled, binary_output=binary_output,
                  device=linear.weight.device, dtype=linear.weight.dtype)
        new.weight = linear.weight
        new.bias = linear.bias
        return new

    def _init_alpha(self) -> None:
        if not self._alpha_ready:
            with torch.no_grad():
                self.alpha.copy_(self.weight.abs().mean(dim=1, keepdim=True))
                self.alpha_initialized.fill_(True)
            self._alpha_ready = True

    def weight_signs(self) -> torch.Tensor:
        """``sign(W - rowmean(W))`` in {-1, +1}, ``(out, in)``, with the
        straight-through gradient."""
        centred = self.weight - self.weight.mean(dim=1, keepdim=True)
        return binary_sign(centred)

    def binary_weight(self) -> torch.Tensor:
        """``alpha * sign(W - rowmean(W))``, ``(out, in)``."""
        self._init_alpha()
        return self.alpha * self.weight_signs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._enabled:
            out = super().forward(x)
        elif not self.binary_input:
            out = F.linear(x, self.binary_weight().to(x.dtype),
                           _cast(self.bias, x.dtype))
        else:
            # sign(x) sign(W)^T is an integer matrix, exact in floating
            # point; scaling it by alpha afterwards (the same maths as the
            # scaled weight) makes DeployedBinaryLinear's integer GEMM give
            # the same bits
            self._init_alpha()
            out = _scale_and_shift(
                F.linear(binary_sign(x), self.weight_signs().to(x.dtype)),
                self.alpha, self.bias)
        return binary_sign(out) if self.binary_output else out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, binary_input={self.binary_input}, '
                f'binary_output={self.binary_output}')


def _cast(t: Optional[torch.Tensor], dtype) -> Optional[torch.Tensor]:
    return None if t is None else t.to(dtype)


def _scale_and_shift(integers: torch.Tensor, alpha: torch.Tensor,
                     bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``integers * alpha + bias`` per output channel, for integer values
    held in a float tensor. Both binary layer forms call it on equal
    tensors, so they agree bit for bit."""
    alpha = alpha.view(-1).to(integers.dtype)
    if bias is None:
        return integers * alpha
    return torch.addcmul(bias.to(integers.dtype), integers, alpha)


@torch.library.custom_op('mmagent::int8_matmul', mutates_args=())
def integer_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` of 2-D int8 matrices into int32 (a library int8 GEMM:
    oneDNN on CPU, cuBLASLt on CUDA); where the device's kernel does not
    take the shapes (CUDA: more than 16 rows, both other sizes multiples
    of 8), the ±1 values go through a float GEMM, exact for integer sums
    below 2**24. A custom operator, so that torch.compile calls the
    library kernel instead of generating a slower integer loop."""
    if branch_device(a) == 'cpu' or (a.shape[0] > 16 and a.shape[1] % 8 == 0
                                     and b.shape[1] % 8 == 0):
        return torch._int_mm(a, b)
    return (a.float() @ b.float()).to(torch.int32)


@integer_matmul.register_fake
def _(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.new_empty((a.shape[0], b.shape[1]), dtype=torch.int32)


class DeployedBinaryLinear(nn.Module):
    """A trained :class:`BinaryLinear` for inference: ``weight`` holds the
    int8 signs of ``W - rowmean(W)``, and with ``binary_input`` the layer
    computes ``(sign(x) @ weight^T)`` as an int8 x int8 -> int32 GEMM
    (:func:`integer_matmul`), then ``* alpha + bias``: outputs equal to the
    fake-quantized layer's, bit for bit. Without ``binary_input`` (BiViT's
    MLPs: full-precision activations) it is a float linear with the
    weight ``alpha * signs`` computed once.

    The state dict has :class:`BinaryLinear`'s keys, so the checkpoints of
    a trained BiViT model and ``bivit_pack.py unpack`` files load as they
    are: a float ``weight`` becomes its signs; without a trained ``alpha``
    (``alpha_initialized`` False or missing: a full-precision checkpoint)
    ``alpha`` is ``mean |W|`` of each row, what :class:`BinaryLinear` sets
    at its first forward. A layer not binary in the checkpoint
    (``binary_enabled`` False: cross-layer binarization's first stage) is
    refused. Inference only: nothing here takes gradients.

    Args:
        in_features, out_features, bias, binary_input: As
            :class:`BinaryLinear`.
    """

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True, binary_input: bool = True,
                 binary_output: bool = False):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.binary_input, self.binary_output = binary_input, binary_output
        self.register_buffer(
            'weight', torch.ones(out_features, in_features, dtype=torch.int8))
        self.register_buffer('alpha', torch.ones(out_features, 1))
        self.register_buffer('bias',
                             torch.zeros(out_features) if bias else None)
        self.register_buffer('alpha_initialized', torch.tensor(True))
        self.register_buffer('binary_enabled', torch.tensor(True))
        # alpha * signs for float inputs, kept in step with the signs
        self.register_buffer('scaled_weight', None, persistent=False)
        self._update_scaled_weight()

    @classmethod
    def from_binary(cls, layer: BinaryLinear) -> 'DeployedBinaryLinear':
        """The deployed form of ``layer`` (its alpha set first if no
        forward has set it yet)."""
        layer._init_alpha()
        new = cls(layer.in_features, layer.out_features,
                  bias=layer.bias is not None,
                  binary_input=layer.binary_input,
                  binary_output=layer.binary_output)
        new.load_state_dict(layer.state_dict())
        return new.to(device=layer.weight.device, dtype=layer.alpha.dtype)

    def _update_scaled_weight(self) -> None:
        self.scaled_weight = None if self.binary_input else (
            self.alpha * self.weight.to(self.alpha.dtype))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = f'{prefix}weight'
        enabled = state_dict.get(f'{prefix}binary_enabled')
        if enabled is not None and not bool(enabled):
            raise ValueError(
                f'{prefix[:-1]} is not binary in this checkpoint '
                f'(binary_enabled is False: the first stage of cross-layer '
                f'binarization?); deploy a model whose binary layers are '
                f'all enabled')
        weight = state_dict.get(key)
        if weight is not None and weight.is_floating_point():
            if not bool(state_dict.get(f'{prefix}alpha_initialized', False)):
                state_dict[f'{prefix}alpha'] = weight.abs().mean(
                    dim=1, keepdim=True).to(self.alpha.dtype)
                state_dict[f'{prefix}alpha_initialized'] = torch.tensor(True)
            centred = weight - weight.mean(dim=1, keepdim=True)
            state_dict[key] = int8_signs(centred)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._update_scaled_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.binary_input:
            out = F.linear(x, self.scaled_weight.to(x.dtype),
                           _cast(self.bias, x.dtype))
        else:
            flat = int8_signs(x).reshape(-1, self.in_features)
            integers = integer_matmul(flat, self.weight.t())
            out = _scale_and_shift(
                integers.to(x.dtype).reshape(*x.shape[:-1],
                                             self.out_features),
                self.alpha, self.bias)
        return float_signs(out) if self.binary_output else out

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, '
                f'out_features={self.out_features}, '
                f'bias={self.bias is not None}, '
                f'binary_input={self.binary_input}, '
                f'binary_output={self.binary_output}')
