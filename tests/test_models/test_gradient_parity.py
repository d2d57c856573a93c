"""The fast path trains like the exact one: on the official models of the
golden fixtures (both repositories' classifiers, the downstream Agent-PVT
and Agent-Swin backbones), every parameter's gradient of the fast path
equals the exact path's to a relative 1e-4, in training mode.

Both run in float64. In fp32, rounding alone moves a few gradients that
are sums of large cancelling terms (the queries' projection in Agent-PVT's
784-agent stage) by 1-2e-4 from the float64 truth in *both* paths; in
float64 the two paths agree to ~4e-7, so the comparison shows the maths
of the paths, which any dropped or misrouted gradient would break."""
import pytest
import torch
from golden_models import CLASSIFIERS, backbone, classifier, load_golden


def gradients(model, inputs, forward):
    """Parameter gradients of a fixed random projection of the outputs
    (every output element weighs in, unlike a plain sum after a norm)."""
    outs = forward(model, inputs.double())
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(out.shape, generator=gen, dtype=out.dtype)
               for out in outs]
    loss = sum((out * w).sum() for out, w in zip(outs, weights))
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad for name, p in model.named_parameters()
            if p.requires_grad}


def assert_same_gradients(fast, exact):
    assert fast.keys() == exact.keys()
    missing = [name for name, grad in fast.items() if grad is None]
    assert not missing, f'no gradient in the fast path: {missing[:5]}'
    errors = {}
    for name, ref in exact.items():
        scale = ref.abs().max()
        if scale > 0:
            errors[name] = ((fast[name] - ref).abs().max() / scale).item()
        else:
            assert fast[name].abs().max() == 0, name
    worst = max(errors, key=errors.get)
    assert errors[worst] <= 1e-4, (worst, errors[worst])


@pytest.mark.parametrize('name', sorted(CLASSIFIERS))
def test_classifier_gradients_fast_equal_exact(golden_dir, name):
    golden = load_golden(golden_dir, f'{name}_cls')
    inputs = golden['cases'][0]['input']

    def forward(model, x):
        return [model(x, mode='tensor')]

    grads = [gradients(classifier(golden, CLASSIFIERS[name], exact).double(),
                       inputs, forward) for exact in (False, True)]
    assert_same_gradients(*grads)


@pytest.mark.parametrize('name', ['agent_pvt', 'agent_swin'])
def test_downstream_backbone_gradients_fast_equal_exact(golden_dir, name):
    """At a detection-like size that is not the pretraining one (resized
    biases, agent grids other than the ImageNet ones, Swin's padding and
    shifted windows)."""
    golden = load_golden(golden_dir, name)
    inputs = next(case['input'] for case in golden['cases']
                  if tuple(case['input'].shape[-2:]) != (224, 224))

    def forward(model, x):
        return model(x)

    grads = [gradients(backbone(golden, exact).double(), inputs, forward)
             for exact in (False, True)]
    assert_same_gradients(*grads)
