import pytest
import torch

from mmagent.models.layers import AgentAttention


def make_pair(fused_qkv=True, **kwargs):
    cfg = dict(embed_dims=32, num_heads=4, agent_num=16, agent_shape=(5, 6),
               pretrain_hw=(14, 14), fused_qkv=fused_qkv, **kwargs)
    fast = AgentAttention(**cfg)
    exact = AgentAttention(exact=True, **cfg)
    exact.load_state_dict(fast.state_dict())
    return fast.eval(), exact.eval()


@pytest.mark.parametrize('fused_qkv', [True, False])
@pytest.mark.parametrize('hw', [(14, 14), (9, 23), (3, 4)])
def test_fast_matches_exact(fused_qkv, hw):
    fast, exact = make_pair(fused_qkv)
    x = torch.randn(2, hw[0] * hw[1], 32)
    with torch.no_grad():
        torch.testing.assert_close(fast(x, hw), exact(x, hw),
                                   rtol=1e-5, atol=1e-5)
    # and with gradients (no cache), the gradients agree too
    grads = []
    for m in (fast, exact):
        m.zero_grad()
        m(x, hw).square().sum().backward()
        grads.append(m.an_bias.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_exact_bias_follows_official_order():
    """Each bias term is resized to (H, W), then over the agent grid, and
    the two terms are summed afterwards."""
    _, exact = make_pair()
    hw = (9, 23)
    agent_bias, token_bias = exact.position_biases(hw, torch.float32)
    assert agent_bias.shape == (1, 4, 30, 9 * 23)
    assert token_bias.shape == (1, 4, 9 * 23, 30)
    F = torch.nn.functional

    def two_step(bias):
        bias = F.interpolate(bias, size=hw, mode='bilinear')
        bias = bias.reshape(4, 4, 4, -1).permute(0, 3, 1, 2)
        return F.interpolate(bias, size=(5, 6), mode='bilinear').reshape(
            4, 9 * 23, 30)

    ref = two_step(exact.an_bias.data).transpose(1, 2) + two_step(
        (exact.ah_bias + exact.aw_bias).squeeze(0).data).transpose(1, 2)
    assert torch.equal(agent_bias[0], ref)


def test_bias_cache_used_without_grad_and_invalidated_by_updates():
    fast, _ = make_pair()
    x = torch.randn(1, 49, 32)
    with torch.no_grad():
        first = fast(x, (7, 7))
        cached = fast._bias_cache[1]
        second = fast(x, (7, 7))
        assert fast._bias_cache[1] is cached  # reused, not rebuilt
    assert torch.equal(first, second)
    with torch.no_grad():
        fast.an_bias.add_(1.0)  # e.g. an optimizer step or a new checkpoint
        third = fast(x, (7, 7))
        assert fast._bias_cache[1] is not cached
    assert not torch.equal(first, third)
    fast.train()
    out = fast(x, (7, 7))  # grad enabled: never served from the cache
    assert fast._bias_cache is None
    out.sum().backward()
    assert fast.an_bias.grad is not None and fast.an_bias.grad.abs().sum() > 0


def test_bias_cache_is_bounded(monkeypatch):
    fast, _ = make_pair()
    # (7, 7) biases: 2 * 4 heads * 30 agents * 49 tokens * 4 bytes
    monkeypatch.setattr(AgentAttention, 'bias_cache_bytes', 2 * 4 * 30 * 49 * 4)
    with torch.no_grad():
        fast(torch.randn(1, 49, 32), (7, 7))
        assert fast._bias_cache is not None
        fast(torch.randn(1, 64, 32), (8, 8))  # larger: not kept
        assert fast._bias_cache is None


def test_fast_biases_match_exact_biases():
    fast, exact = make_pair()
    for hw in [(14, 14), (3, 50), (61, 17)]:
        with torch.no_grad():
            ref = exact.position_biases(hw, torch.float32)
            out = fast.position_biases(hw, torch.float32)
        for o, r in zip(out, ref):
            torch.testing.assert_close(o, r, rtol=0, atol=1e-6)


def test_agents_outnumber_tokens():
    """PVT stage 4 at 800 px: 28x28 agents pooled from a 25x42 map, and
    smaller-than-agent-grid maps work too."""
    fast, exact = make_pair()
    for hw in [(2, 3), (1, 1)]:
        x = torch.randn(1, hw[0] * hw[1], 32)
        with torch.no_grad():
            torch.testing.assert_close(fast(x, hw), exact(x, hw),
                                       rtol=1e-5, atol=1e-5)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='perfect square'):
        AgentAttention(32, 4, 10, (3, 3), (7, 7))
    with pytest.raises(ValueError, match='divisible'):
        AgentAttention(30, 4, 9, (3, 3), (7, 7))


@pytest.mark.parametrize('bias_grad', [True, False])
def test_biased_attention_matches_sdpa(monkeypatch, bias_grad):
    """Values and gradients of ``softmax(q k^T s + bias) v``; SDPA is
    bypassed exactly when the bias needs its gradient (no fused CPU kernel
    differentiates a mask)."""
    import torch.nn.functional as F

    from mmagent.models.layers.attention.common import biased_attention
    q, k, v = (torch.randn(2, 3, n, 8, requires_grad=True)
               for n in (5, 7, 7))
    bias = torch.randn(1, 3, 5, 7, requires_grad=bias_grad)
    inputs = (q, k, v, bias) if bias_grad else (q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=.3)
    ref_grads = torch.autograd.grad(ref.square().sum(), inputs)
    sdpa_calls = []
    original = F.scaled_dot_product_attention

    def spy(*args, **kwargs):
        sdpa_calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', spy)
    out = biased_attention(q, k, v, bias, .3)
    grads = torch.autograd.grad(out.square().sum(), inputs)
    assert len(sdpa_calls) == (0 if bias_grad else 1)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # inference: SDPA, whatever the bias
        biased_attention(q, k, v, bias, .3)
    assert len(sdpa_calls) == (1 if bias_grad else 2)


@pytest.mark.parametrize('extra', [0, 1])
@pytest.mark.parametrize('hw', [(14, 14), (9, 23), (3, 4), (50, 84)])
def test_agents_pooled_by_matmul_equal_adaptive_pooling(hw, extra):
    """The fast path's two pooling matmuls give F.adaptive_avg_pool2d's
    averages, also where the grid does not divide the map (overlapping
    windows) or is larger than it, with a class token left out."""
    cfg = dict(embed_dims=32, num_heads=4, agent_num=16, agent_shape=(5, 6),
               pretrain_hw=(14, 14), num_extra_tokens=extra)
    fast, exact = AgentAttention(**cfg), AgentAttention(exact=True, **cfg)
    q = torch.randn(2, extra + hw[0] * hw[1], 32, requires_grad=True)
    pooled = fast.pool_agents(q, hw)
    reference = exact.pool_agents(q, hw)
    torch.testing.assert_close(pooled, reference, rtol=1e-5, atol=1e-6)
    grad, = torch.autograd.grad(pooled.square().sum(), q)
    ref_grad, = torch.autograd.grad(reference.square().sum(), q)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
    if extra:  # the class token is not pooled
        assert grad[:, :extra].abs().max() == 0


def test_checkpoint_maps_same_gradients_less_memory():
    """``checkpoint_maps`` recomputes the biases and both maps in backward:
    identical outputs and gradients, and neither map kept for backward."""
    from mmagent import AgentSwinTransformer
    from mmagent.utils.profiling import peak_memory
    kwargs = dict(arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                            num_heads=[1, 2, 4, 8], attn_type='AAAB'),
                  drop_path_rate=0.)
    plain = AgentSwinTransformer(**kwargs).train()
    lean = AgentSwinTransformer(
        **kwargs, attn_cfgs=dict(agent=dict(checkpoint_maps=True))).train()
    lean.load_state_dict(plain.state_dict())
    assert all(m.checkpoint_maps for m in lean.modules()
               if isinstance(m, AgentAttention))
    x = torch.randn(1, 3, 224, 320)
    weights = [torch.randn_like(out) for out in plain(x)]

    def step(model):
        model.zero_grad(set_to_none=True)
        outs = model(x)
        sum((o * w).sum() for o, w in zip(outs, weights)).backward()
        return outs

    results = {}
    for name, model in (('plain', plain), ('lean', lean)):
        outs, peak = peak_memory(lambda: step(model), 'cpu')
        results[name] = (outs, peak, {n: p.grad for n, p in
                                      model.named_parameters()})
    for out, ref in zip(results['lean'][0], results['plain'][0]):
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
    for name, grad in results['lean'][2].items():
        torch.testing.assert_close(grad, results['plain'][2][name],
                                   rtol=1e-6, atol=1e-9)
    # stage 1's two maps alone: 2 blocks x 2 maps x 81 agents x 56x80
    maps = 2 * 2 * 81 * 56 * 80 * 4
    assert results['lean'][1] < results['plain'][1] - maps
