"""torch.compile-friendliness of every family: the inference forward traces
into one graph (no graph break) at two input sizes, and the training
forward and backward compile as one graph (``fullgraph=True``) through
dynamo and AOT autograd, with outputs and gradients equal to eager.

The inductor code generation itself (one to two minutes per model here)
is checked at full size by ``benchmark_backbone.py --compile``, which
compares the compiled outputs with eager ones."""
import pytest
import torch

from conftest import TINY_FAMILIES as FAMILIES
from conftest import TINY_SIZES as SIZES


@pytest.mark.parametrize('family', sorted(FAMILIES))
@pytest.mark.slow
def test_inference_forward_has_no_graph_break(family):
    model = FAMILIES[family]().eval()
    for size in SIZES[family]:

        def forward(x):
            return model(x)

        torch._dynamo.reset()
        with torch.no_grad():
            explained = torch._dynamo.explain(forward)(
                torch.randn(1, 3, *size))
        assert explained.graph_break_count == 0, (
            size, [r.reason for r in explained.break_reasons])
        assert explained.graph_count == 1
    torch._dynamo.reset()


@pytest.mark.parametrize('family', sorted(FAMILIES))
@pytest.mark.slow
def test_compiled_training_step_equals_eager(family):
    """Forward and backward as one graph (a graph break raises with
    ``fullgraph=True``); outputs and every parameter's gradient of a
    random projection of the outputs within 1e-4 of eager."""
    model = FAMILIES[family]().train()
    x = torch.randn(1, 3, *SIZES[family][1])
    weights = [torch.randn_like(out) for out in model(x)]

    def step(forward):
        model.zero_grad(set_to_none=True)
        outs = forward(x)
        sum((out * w).sum() for out, w in zip(outs, weights)).backward()
        return outs, {name: p.grad.clone()
                      for name, p in model.named_parameters()}

    torch._dynamo.reset()
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True,
                             dynamic=False)
    outs, grads = step(compiled)
    ref_outs, ref_grads = step(model)
    torch._dynamo.reset()
    for out, ref in zip(outs, ref_outs):
        assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
    for name, ref in ref_grads.items():
        error = (grads[name] - ref).abs().max()
        assert error <= 1e-4 * ref.abs().max(), name


def test_python_side_caches_do_not_recompile():
    """Repeated calls at one size reuse the first graph: the bias and shift
    mask caches are left alone while dynamo traces (a cache mutated by each
    call would fail the guards and recompile every time)."""
    compiled_graphs = []

    def counting_backend(graph, example_inputs):
        compiled_graphs.append(graph)
        return graph.forward

    model = FAMILIES['agent-swin']().eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=counting_backend, dynamic=False)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        for _ in range(3):
            outs = compiled(x)
        ref = model(x)  # eager: the caches still serve it
    torch._dynamo.reset()
    assert len(compiled_graphs) == 1
    for out, eager in zip(outs, ref):
        torch.testing.assert_close(out, eager)
