"""Every branch a GPU takes runs on the CPU too (mmagent.utils.
device_branches): on the golden models and inputs, the CUDA branch of each
device-chosen operation gives the CPU branch's outputs and parameter
gradients (relative 1e-4; float64, as test_gradient_parity.py explains),
and the int8 GEMM's gives the same integers. (The int8 GEMM is the only
device-chosen piece of BiViT's deploy mode; a whole deployed model gives it
more than 16 rows, the CUDA rule's int8-kernel case, at any input size.)"""
import pytest
import torch
from golden_models import CLASSIFIERS, backbone, classifier, load_golden
from test_gradient_parity import assert_same_gradients, gradients

from mmagent.models.layers import binary
from mmagent.models.layers.attention import common
from mmagent.utils.device_branches import branch_device, branches_of


def count_calls(monkeypatch, module, name):
    """Count the calls of ``module.name`` (wrapped, still called)."""
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(branch_device(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_branches_of_switches_and_restores():
    x = torch.zeros(1)
    assert branch_device(x) == 'cpu'
    with branches_of('cuda'):
        assert branch_device(x) == 'cuda'
        with branches_of('cpu'):
            assert branch_device(x) == 'cpu'
        assert branch_device(x) == 'cuda'
    assert branch_device(x) == 'cpu'
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        with branches_of('gpu'):
            pass


def _sdpa_calls(monkeypatch):
    return count_calls(monkeypatch, common.F, 'scaled_dot_product_attention')


# the golden models whose fast path goes through biased_attention (agent
# attention, Swin's window attention)
BIASED = ['agent_pvt_cls', 'agent_swin_cls', 'agent_deit_cls',
          'agent_cswin_cls', 'flatten_swin_cls', 'agent_pvt', 'agent_swin']


@pytest.mark.parametrize('name', BIASED)
def test_biased_attention_gpu_branch_equals_cpu_branch(golden_dir, name,
                                                       monkeypatch):
    """On the CPU with a bias that needs its gradient, biased_attention
    writes the softmax out; elsewhere it calls SDPA with the bias as its
    mask. Both branches, forward and backward, on the golden inputs."""
    golden = load_golden(golden_dir, name)
    if name.endswith('_cls'):
        model = classifier(golden, CLASSIFIERS[name[:-4]], False)

        def forward(model, x):
            return [model(x, mode='tensor')]
    else:
        model = backbone(golden, False)

        def forward(model, x):
            return list(model(x))

    inputs = golden['cases'][-1]['input']
    model = model.double().eval()  # no drop path: both see the same maths
    sdpa = _sdpa_calls(monkeypatch)
    cpu = gradients(model, inputs, forward)
    cpu_outputs = forward(model, inputs.double())
    written_out = len(sdpa)
    with branches_of('cuda'):
        gpu = gradients(model, inputs, forward)
        gpu_outputs = forward(model, inputs.double())
    assert len(sdpa) > written_out, 'the GPU branch never called SDPA'
    assert_same_gradients(gpu, cpu)
    assert len(gpu_outputs) == len(cpu_outputs) > 0
    for out, ref in zip(gpu_outputs, cpu_outputs):
        assert ((out - ref).abs().max() / ref.abs().max()) <= 1e-4


def random_signs(rows, cols, gen):
    return (torch.randint(0, 2, (rows, cols), generator=gen,
                          dtype=torch.int8) * 2 - 1)


@pytest.mark.parametrize('shape', [(1, 24, 40), (4, 7, 9), (32, 64, 48),
                                   (17, 16, 8), (40, 12, 24)],
                         ids=lambda s: 'x'.join(map(str, s)))
def test_int8_gemm_gpu_branch_equals_cpu_branch(shape):
    """The CUDA branch takes the int8 kernel only for more than 16 rows and
    inner and output sizes that are multiples of 8, else a float GEMM of
    the ±1 values: both give the CPU kernel's integers."""
    m, k, n = shape
    gen = torch.Generator().manual_seed(m * k * n)
    a, b = random_signs(m, k, gen), random_signs(k, n, gen)
    expected = a.int() @ b.int()
    got_cpu = binary.integer_matmul(a, b)
    with branches_of('cuda'):
        got_gpu = binary.integer_matmul(a, b)
    assert got_cpu.dtype == got_gpu.dtype == torch.int32
    assert torch.equal(got_cpu, expected) and torch.equal(got_gpu, expected)
