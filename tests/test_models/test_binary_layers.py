"""BiViT's quantizers (layers/binary.py) against their definitions: SAB,
the clipped sign STE, PWS linears."""

import torch
import torch.nn.functional as F

from mmagent.models.layers.binary import (BinaryLinear, binary_sign,
                                          softmax_aware_binarize)


def test_sab_forward_is_thresholded_softmax():
    logits = torch.randn(3, 4, 49, 49) * 3
    probs = logits.softmax(-1)
    expected = (probs >= 0.25 * probs.amax(-1, keepdim=True)).float()
    out = softmax_aware_binarize(logits)
    assert torch.equal(out, expected)
    assert set(out.unique().tolist()) <= {0., 1.}
    assert (out.sum(-1) >= 1).all()  # the row maximum always survives
    # beta moves the threshold
    assert softmax_aware_binarize(logits, 0.5).sum() < out.sum()


def test_sab_gradient_is_the_softmax_gradient():
    logits = torch.randn(2, 3, 16, 16, dtype=torch.float64,
                         requires_grad=True)
    upstream = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    grad, = torch.autograd.grad((softmax_aware_binarize(logits) *
                                 upstream).sum(), logits)
    expected, = torch.autograd.grad((logits.softmax(-1) * upstream).sum(),
                                    logits)
    assert torch.allclose(grad, expected, atol=1e-12)


def test_sab_reduced_precision():
    logits = torch.randn(2, 8, 8).half() * 100
    out = softmax_aware_binarize(logits)
    assert out.dtype == torch.float16
    probs = logits.float().softmax(-1)
    assert torch.equal(
        out.float(), (probs >= 0.25 * probs.amax(-1, keepdim=True)).float())


def test_sign_ste():
    x = torch.tensor([-2., -1., -0.5, 0., 0.3, 1., 3.], requires_grad=True)
    out = binary_sign(x)
    assert out.tolist() == [-1., -1., -1., 1., 1., 1., 1.]
    out.sum().backward()
    assert x.grad.tolist() == [0., 0., 1., 1., 1., 0., 0.]


def test_pws_binary_linear():
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 5)
    with torch.no_grad():
        linear.weight.mul_(10)  # some |W - mean| >= 1: clipped gradients
    layer = BinaryLinear.from_float(linear)
    assert layer.weight is linear.weight and layer.bias is linear.bias
    assert not layer.alpha_initialized
    x = torch.randn(4, 8)
    out = layer(x)
    # alpha = mean |W| per output channel, set at the first forward
    assert layer.alpha_initialized
    assert torch.allclose(layer.alpha,
                          linear.weight.abs().mean(1, keepdim=True))
    centred = linear.weight - linear.weight.mean(1, keepdim=True)
    binary_w = layer.alpha * torch.where(centred >= 0, 1., -1.)
    x_b = torch.where(x >= 0, 1., -1.)
    assert torch.allclose(out, F.linear(x_b, binary_w, linear.bias))
    # STE: through sign (clipped at |W - mean| < 1) and the centring
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    g_wb = upstream.t() @ x_b  # dL / dW_b
    g_c = layer.alpha.detach() * g_wb * (centred.abs() < 1)
    expected = g_c - g_c.mean(1, keepdim=True)
    assert torch.allclose(linear.weight.grad, expected, atol=1e-5)
    sign_c = torch.where(centred >= 0, 1., -1.)
    assert torch.allclose(layer.alpha.grad,
                          (g_wb * sign_c).sum(1, keepdim=True), atol=1e-5)
    # built where and as the float layer is
    half = BinaryLinear.from_float(torch.nn.Linear(8, 5).half())
    assert half.alpha.dtype == torch.float16
    # trained alphas survive a reload: no re-initialisation
    with torch.no_grad():
        layer.alpha.fill_(0.5)
    reloaded = BinaryLinear(8, 5)
    reloaded.load_state_dict(layer.state_dict())
    reloaded(x)
    assert torch.all(reloaded.alpha == 0.5)
