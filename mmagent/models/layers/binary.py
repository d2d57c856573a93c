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

Values stay float tensors (fake quantization): nothing here is faster than
fp32 in PyTorch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

#: The paper's threshold factor (Eq. 11): a bit shift in hardware.
SAB_BETA = 0.25


class _SignSTE(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1., -1.).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * (x.abs() < 1).to(grad.dtype)


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """``x`` to {-1, +1} (0 maps to +1); gradient ``1[|x| < 1]``."""
    return _SignSTE.apply(x)


class _SoftmaxAwareBinarization(torch.autograd.Function):

    @staticmethod
    def forward(ctx, logits, beta):
        probs = logits.softmax(dim=-1)
        ctx.save_for_backward(probs)
        threshold = beta * probs.amax(dim=-1, keepdim=True)
        return (probs >= threshold).to(logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        probs, = ctx.saved_tensors
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
                 enabled: bool = True, **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self.binary_input = binary_input
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
                   enabled: bool = True) -> 'BinaryLinear':
        """A binary layer sharing ``linear``'s weight and bias tensors."""
        new = cls(linear.in_features, linear.out_features,
                  bias=linear.bias is not None, binary_input=binary_input,
                  enabled=enabled, device=linear.weight.device,
                  dtype=linear.weight.dtype)
        new.weight = linear.weight
        new.bias = linear.bias
        return new

    def binary_weight(self) -> torch.Tensor:
        """``alpha * sign(W - rowmean(W))``, ``(out, in)``."""
        if not self._alpha_ready:
            with torch.no_grad():
                self.alpha.copy_(self.weight.abs().mean(dim=1, keepdim=True))
                self.alpha_initialized.fill_(True)
            self._alpha_ready = True
        centred = self.weight - self.weight.mean(dim=1, keepdim=True)
        return self.alpha * binary_sign(centred)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._enabled:
            return super().forward(x)
        if self.binary_input:
            x = binary_sign(x)
        return F.linear(x, self.binary_weight().to(x.dtype),
                        None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, binary_input={self.binary_input}'
