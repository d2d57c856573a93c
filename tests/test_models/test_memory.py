"""Peak memory (allocation bytes, not time: deterministic) of the fast path
stays below the reference path, and its biases are never per image."""
import pytest
import torch

from mmagent import AgentPVT, AgentSwinTransformer
from mmagent.models.layers import AgentAttention
from mmagent.utils.profiling import peak_memory


def test_peak_memory_helper_counts_live_bytes():

    def fn():
        a = torch.empty(1000, 1000)  # 4 MB
        b = torch.empty(2000, 1000)  # +8 MB -> 12 MB live
        del a
        c = torch.empty(500, 1000)  # 10 MB live
        return b, c

    _, peak = peak_memory(fn, torch.device('cpu'))
    assert peak == 12_000_000


@pytest.mark.parametrize('cls,arch', [(AgentPVT, 't'),
                                      (AgentSwinTransformer, 't')])
@pytest.mark.slow
def test_fast_peak_memory_below_exact(cls, arch):
    fast = cls(arch=arch).eval()
    exact = cls(arch=arch, exact=True).eval()
    exact.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, 320, 480)
    with torch.no_grad():
        peaks = {}
        for name, model in (('fast', fast), ('exact', exact)):
            model(x)  # warm-up
            peaks[name] = peak_memory(lambda: model(x), x.device)[1]
    assert peaks['fast'] < 0.9 * peaks['exact'], peaks


def test_biases_broadcast_over_batch():
    attn = AgentAttention(32, 4, 16, (6, 6), (14, 14)).eval()
    biases = []
    attn.position_biases = (lambda f: lambda *a: biases.append(f(*a)) or
                            biases[-1])(attn.position_biases)
    with torch.no_grad():
        attn(torch.randn(5, 20 * 30, 32), (20, 30))
    agent_bias, token_bias = biases[0]
    assert agent_bias.shape == (1, 4, 36, 600)
    assert token_bias.shape == (1, 4, 600, 36)
