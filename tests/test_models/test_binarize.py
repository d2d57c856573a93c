"""BiViT's transform (models/binarize.py): the binary attention kinds
against their definitions (Swin windows with bias and shift mask, PVT spatial
reduction, DeiT), softmax blocks binarized in place with their full-precision
weights, the config entry, the experimental agent option."""
import pytest
import torch
import torch.nn.functional as F
from conftest import (SOFTMAX_SWIN, TINY_PVT, assert_tensors_equal,
                      block_context)
from mmengine.registry import MODELS

from mmagent.models import binarize_backbone
from mmagent.models.backbones import (AgentDeiT, AgentPVT,
                                      AgentSwinTransformer, FLattenPVT)
from mmagent.models.binarize import (BinaryGlobalAttention,
                                     BinarySpatialReductionAttention,
                                     BinaryWindowAttention)
from mmagent.models.layers.attention import (ATTENTIONS,
                                             SpatialReductionAttention,
                                             WindowAttention, build_attention,
                                             shifted_window_mask,
                                             window_partition)
from mmagent.models.layers.attention.global_softmax import GlobalAttention
from mmagent.models.layers.binary import BinaryLinear


def test_binary_window_attention_matches_its_definition():
    """A shifted window block: binary Q/K/V from the PWS qkv, the relative
    position bias and the shift mask added in full precision, then SAB,
    then the PWS proj."""
    attn = build_attention('binary_window', block_context(
        embed_dims=16, num_heads=2, window_size=4, shift_size=2)).eval()
    assert isinstance(attn, BinaryWindowAttention)
    with torch.no_grad():
        attn.relative_position_bias_table.normal_(0, 1)
    x = torch.randn(2, 8 * 8, 16)
    with torch.no_grad():
        out = attn(x, (8, 8))
        # by hand
        shifted = torch.roll(x.view(2, 8, 8, 16), (-2, -2), (1, 2))
        windows = window_partition(shifted, 4)  # (2*4, 16, 16)
        qkv = attn.qkv(windows).reshape(8, 16, 3, 2, 8).permute(2, 0, 3, 1, 4)
        q, k, v = (torch.where(t >= 0, 1., -1.) for t in qkv)
        mask = shifted_window_mask((8, 8), 4, 2, x.device)
        logits = (q * attn.scale) @ k.transpose(-2, -1) + \
            attn._relative_position_bias()[None] + \
            mask.unsqueeze(1).repeat(2, 1, 1, 1)
        probs = logits.softmax(-1)
        amap = (probs >= 0.25 * probs.amax(-1, keepdim=True)).float()
        y = attn.proj((amap @ v).transpose(1, 2).reshape(8, 16, 16))
        y = y.view(2, 2, 2, 4, 4, 16).permute(0, 1, 3, 2, 4, 5).reshape(
            2, 8, 8, 16)
        expected = torch.roll(y, (2, 2), (1, 2)).reshape(2, 64, 16)
    assert torch.allclose(out, expected, atol=1e-5)


def _pws(layer, x, binary_input=True):
    """A binarized layer by the paper's definition, from its latent
    weights: ``sign(x) @ (alpha * sign(W - rowmean W))^T + b`` with
    ``alpha = mean |W|`` (the first forward's value)."""
    w = layer.weight
    alpha = w.abs().mean(1, keepdim=True)
    signs = torch.where(w - w.mean(1, keepdim=True) >= 0, 1., -1.)
    x = torch.where(x >= 0, 1., -1.) if binary_input else x
    return F.linear(x, alpha * signs, layer.bias)


def _sab_attention(q, k, v, scale):
    sign = lambda t: torch.where(t >= 0, 1., -1.)  # noqa: E731
    probs = ((sign(q) * scale) @ sign(k).transpose(-2, -1)).softmax(-1)
    amap = (probs >= 0.25 * probs.amax(-1, keepdim=True)).float()
    return amap @ sign(v)


@pytest.mark.parametrize('kind', ['spatial_reduction', 'global'])
def test_binary_sr_and_global_attention_match_their_definition(kind):
    """PVT's spatial-reduction block (the reduction conv and norm in full
    precision, binary Q from the tokens, binary K/V from the reduced map)
    and DeiT's global block, computed by hand from the latent weights."""
    torch.manual_seed(0)
    attn = build_attention('binary_' + kind, block_context(
        embed_dims=16, num_heads=2, sr_ratio=2)).eval()
    x = torch.randn(2, 8 * 6, 16)
    with torch.no_grad():
        out = attn(x, (8, 6))
        heads = lambda t: t.reshape(2, -1, 2, 8).transpose(1, 2)  # noqa
        if kind == 'spatial_reduction':
            q = heads(_pws(attn.q, x))
            reduced = attn.norm(attn.sr(x.transpose(1, 2).reshape(
                2, 16, 8, 6)).flatten(2).transpose(1, 2))
            k, v = (heads(t) for t in _pws(attn.kv, reduced).chunk(2, -1))
            assert k.shape[2] == 4 * 3
        else:
            q, k, v = (heads(t) for t in _pws(attn.qkv, x).chunk(3, -1))
        y = _sab_attention(q, k, v, attn.scale)
        expected = _pws(attn.proj, y.transpose(1, 2).reshape(2, 48, 16))
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize('build,kind,binary', [
    (lambda: AgentSwinTransformer(arch=SOFTMAX_SWIN, drop_path_rate=0.),
     WindowAttention, BinaryWindowAttention),
    (lambda: AgentPVT(attn_type='BBBB', **TINY_PVT),
     SpatialReductionAttention, BinarySpatialReductionAttention),
    (lambda: AgentDeiT(embed_dims=48, depth=2, num_heads=3, attn_type='B',
                       drop_path_rate=0.),
     GlobalAttention, BinaryGlobalAttention),
])
def test_transform_binarizes_softmax_attention_only(build, kind, binary,
                                                    tmp_path):
    """Every softmax attention module of the family becomes binary; patch
    embeddings, norms, MLPs stay full precision; a full-precision
    checkpoint initialises it; forward and backward run."""
    fp_model = build()
    checkpoint = tmp_path / 'fp.pth'
    torch.save({'state_dict': fp_model.state_dict()}, checkpoint)
    model = binarize_backbone(build())
    attentions = [m for m in model.modules() if isinstance(m, kind)]
    assert attentions and all(type(m) is binary for m in attentions)
    # a registered kind, built in place of the full-precision one
    assert ATTENTIONS.get(attentions[0].built_as[0]) is binary
    binary_linears = {n for n, m in model.named_modules()
                      if isinstance(m, BinaryLinear)}
    assert binary_linears and all('.attn.' in n for n in binary_linears)
    assert set(model.state_dict()) - set(fp_model.state_dict()) == {
        f'{n}.{p}' for n in binary_linears
        for p in ('alpha', 'alpha_initialized', 'binary_enabled')}
    model.load_pretrained(str(checkpoint))
    state, fp_state = model.state_dict(), fp_model.state_dict()
    assert_tensors_equal({k: state[k] for k in fp_state}, fp_state)
    x = torch.randn(2, 3, 64, 64)
    outs = model(x)
    sum((o * o).sum() for o in outs).backward()
    assert all(torch.isfinite(o).all() for o in outs)
    for name in binary_linears:
        layer = model.get_submodule(name)
        assert layer.alpha_initialized and layer.alpha.grad is not None
        if name.endswith('proj'):  # weights get the STE gradient
            assert layer.weight.grad.abs().sum() > 0


def test_config_entry_and_mlp_weights():
    model = MODELS.build(dict(
        type='BiViT', mlp=True,
        backbone=dict(type='AgentPVT', attn_type='BBBB', **TINY_PVT)))
    assert type(model) is AgentPVT
    assert model.binarized['attention_modules'] == 4
    assert model.binarized['mlps'] == 4
    fc1 = model.block1[0].mlp.fc1
    assert isinstance(fc1, BinaryLinear) and not fc1.binary_input
    assert model(torch.randn(1, 3, 64, 64))[0].shape == (1, 16, 16, 16)


def test_binary_kinds_keep_dtype_and_leave_the_rng_alone():
    model = AgentPVT(attn_type='BBBB', **TINY_PVT).to(torch.bfloat16)
    state = torch.get_rng_state()
    binarize_backbone(model)
    assert torch.equal(torch.get_rng_state(), state)
    attn = model.block1[0].attn
    assert isinstance(attn, BinarySpatialReductionAttention)
    assert attn.q.weight.dtype == attn.sr.weight.dtype == torch.bfloat16


def test_refuses_what_it_cannot_binarize():
    with pytest.raises(ValueError, match='no softmax attention module'):
        binarize_backbone(FLattenPVT(**TINY_PVT))
    with pytest.raises(ValueError, match='nothing to binarize'):
        binarize_backbone(AgentPVT(**TINY_PVT), attn=False)
    with pytest.raises(ValueError, match='beta'):
        binarize_backbone(AgentPVT(attn_type='BBBB', **TINY_PVT), beta=0)


def test_agent_attention_experimental_option():
    """agent=True: SAB on both agent maps, rows divided by their count,
    binary Q/K/V and agents, the full-precision DWC on the binary V."""
    from mmagent.models.binarize import BinaryAgentAttention
    from mmagent.models.layers.attention import AgentAttention
    with pytest.raises(ValueError, match='agent=True'):
        binarize_backbone(AgentPVT(**TINY_PVT))  # 'AAAA': nothing softmax
    model = binarize_backbone(AgentPVT(**TINY_PVT), agent=True).eval()
    attn = model.block1[0].attn
    assert type(attn) is BinaryAgentAttention
    assert isinstance(attn.q, BinaryLinear)
    x = torch.randn(2, 16 * 16, 16)
    with torch.no_grad():
        out = attn(x, (16, 16))
        sign = lambda t: torch.where(t >= 0, 1., -1.)  # noqa: E731
        q, k, v = sign(attn.q(x)), *sign(attn.kv(x)).chunk(2, dim=-1)
        agents = sign(AgentAttention.pool_agents(attn, q, (16, 16)))
        q, k, v, agents = (attn._split_heads(t) for t in (q, k, v, agents))
        agent_bias, token_bias = attn.position_biases((16, 16),
                                                      torch.float32)

        def binary_map(a, b, bias):
            p = ((a * attn.scale) @ b.transpose(-2, -1) + bias).softmax(-1)
            m = (p >= 0.25 * p.amax(-1, keepdim=True)).float()
            return m / m.sum(-1, keepdim=True)

        mixed = binary_map(q, agents, token_bias) @ (
            binary_map(agents, k, agent_bias) @ v)
        expected = attn.proj(attn.add_dwc(mixed, v, (16, 16)))
    assert torch.allclose(out, expected, atol=1e-5)
    outs = model(torch.randn(1, 3, 64, 64))
    sum((o * o).sum() for o in outs).backward()
    assert attn.q.alpha.grad is not None
