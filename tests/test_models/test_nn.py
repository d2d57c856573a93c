"""mmagent.nn: the attention kinds as drop-in modules on (B, N, C) tokens,
2-D maps of any shape and 1-D sequences, the documented timm example, and
parity with the backbones' modules on the golden fixtures."""
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import block_context
from golden_models import classifier, load_golden

import mmagent.nn
from mmagent.models.layers import build_attention
from mmagent.nn import AgentAttention, FocusedLinearAttention

KINDS = {
    'agent': lambda **kw: AgentAttention(32, num_heads=4, agent_num=9, **kw),
    'focused': lambda **kw: FocusedLinearAttention(32, num_heads=4, **kw),
}


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('layout,calls', [
    ('map', [((5, 11), 55), ((14, 14), 196), ((1, 3), 3)]),
    ('sequence', [(None, 37), (None, 200), (None, 2)]),
])
def test_maps_of_any_shape_and_sequences(kind, layout, calls):
    """Outputs keep the tokens' shape, and every parameter gets a gradient,
    at sizes other than the one the position terms were learnt at."""
    attn = KINDS[kind](sequence=layout == 'sequence')
    for hw, n in calls:
        x = torch.randn(2, n, 32, requires_grad=True)
        out = attn(x, hw) if hw else attn(x)
        assert out.shape == x.shape and torch.isfinite(out).all()
        attn.zero_grad()
        out.square().sum().backward()
        assert x.grad.abs().sum() > 0
        for name, param in attn.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, (
                name, hw, n)


def backbone_module(kind, sequence):
    """The module a backbone builds for ``kind`` (the registry, a block's
    context) with the drop-in's settings of :data:`KINDS`."""
    grid = (1, 196) if sequence else (14, 14)
    if kind == 'agent':
        return build_attention('agent', block_context(
            agent_num=9, agent_shape=(1, 9) if sequence else (3, 3),
            pretrain_hw=grid, kernel_size=3))
    return build_attention('focused_linear', block_context(pretrain_hw=grid),
                           dict(kernel_size=5))


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('layout,calls', [
    ('map', [((5, 11), 55), ((14, 14), 196), ((1, 3), 3)]),
    ('sequence', [(None, 37), (None, 200), (None, 2)]),
])
def test_same_as_the_backbone_module_at_any_size(kind, layout, calls):
    """With the same weights, the drop-in module gives what the backbones'
    module gives on the same map, at sizes other than the learnt one; a
    sequence is a 1 x N map whose k x k depth-wise kernel holds the
    drop-in's 1 x k kernel in its middle row."""
    sequence = layout == 'sequence'
    drop_in = KINDS[kind](sequence=sequence).eval()
    with torch.no_grad():  # biases start at zero: make every weight count
        for param in drop_in.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    reference = backbone_module(kind, sequence).eval()
    weights = drop_in.state_dict()
    if sequence:
        line, own = weights['dwc.weight'], reference.state_dict()['dwc.weight']
        assert own.shape[-2:] == (line.shape[-1], ) * 2
        square = torch.zeros_like(own)
        square[:, :, own.shape[-2] // 2] = line[:, :, 0]
        weights['dwc.weight'] = square
    reference.load_state_dict(weights, strict=True)
    for hw, n in calls:
        x = torch.randn(2, n, 32)
        with torch.no_grad():
            got = drop_in(x, hw) if hw else drop_in(x)
            expected = reference(x, hw or (1, n))
        if sequence:  # another kernel shape: another summation order
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        else:
            assert torch.equal(got, expected), hw


def test_sequence_mode_works_along_the_sequence():
    """1-D: the agents are adaptive averages of contiguous segments and the
    depth-wise convs have 1 x k kernels."""
    agent = AgentAttention(32, num_heads=4, agent_num=16, sequence=True)
    q = torch.randn(2, 50, 32)
    expected = F.adaptive_avg_pool1d(q.transpose(1, 2), 16).transpose(1, 2)
    assert torch.allclose(agent.pool_agents(q, (1, 50)), expected,
                          atol=1e-6)
    assert agent.dwc.kernel_size == (1, 3)
    focused = FocusedLinearAttention(32, num_heads=4, sequence=True,
                                     kernel_size=7)
    assert focused.dwc.kernel_size == (1, 7)
    assert focused.positional_encoding.shape == (1, 196, 32)
    # the DWC on V: a single non-zero value reaches its k // 2 neighbours
    # along the sequence and nothing else
    v = torch.zeros(1, 4, 30, 8)  # (B, h, N, d)
    v[0, :, 10] = 1
    with torch.no_grad():
        dwc = agent.add_dwc(torch.zeros_like(v), v, (1, 30))[0] - \
            agent.add_dwc(torch.zeros_like(v), torch.zeros_like(v),
                          (1, 30))[0]  # the conv's bias alone
    reached = dwc.abs().sum(-1).nonzero().flatten().tolist()
    assert reached == [9, 10, 11]


def test_bad_calls_say_what_to_do():
    two_d, one_d = AgentAttention(32, 4, 9), AgentAttention(32, 4, 9,
                                                            sequence=True)
    x = torch.randn(1, 12, 32)
    with pytest.raises(ValueError, match=r'hw=\(H, W\)'):
        two_d(x)
    with pytest.raises(ValueError, match='12 tokens do not form the 3x5'):
        two_d(x, (3, 5))
    with pytest.raises(ValueError, match='without hw'):
        one_d(x, (3, 4))
    with pytest.raises(ValueError, match='no attn_mask'):
        one_d(x, attn_mask=torch.ones(12, 12, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'\(B, N, C\)'):
        FocusedLinearAttention(32, 4)(torch.randn(1, 32, 3, 4), (3, 4))
    with pytest.raises(ValueError, match='perfect square'):
        AgentAttention(32, 4, agent_num=10)


def test_documented_timm_example():
    """The module docstring's example runs as written: agent attention in
    every block of a timm ViT (class token + 14x14 map), forward and
    backward."""
    code = re.search(r'Example.*?::\n\n(.*?)(?:\n\S|\Z)',
                     mmagent.nn.__doc__, re.S).group(1)
    namespace = {}
    exec(compile(re.sub(r'(?m)^    ', '', code), 'mmagent.nn example',
                 'exec'), namespace)
    vit = namespace['vit']
    assert all(isinstance(b.attn, AgentAttention) for b in vit.blocks)
    logits = vit(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    logits.sum().backward()
    assert vit.blocks[0].attn.an_bias.grad.abs().sum() > 0


@pytest.mark.parametrize('fixture,config', [('agent_swin_cls', 'agent-swin-t'),
                                            ('flatten_swin_cls',
                                             'flatten-swin-t')])
def test_same_as_the_backbone_module_on_golden_fixtures(golden_dir, fixture,
                                                        config):
    """The drop-in module built for the first block of the official
    classifier, with that block's weights, gives that block's attention
    output bit for bit on the golden input."""
    golden = load_golden(golden_dir, fixture)
    model = classifier(golden, config, exact=False).eval()
    block_attn = model.backbone.layers[0].blocks[0].attn
    seen = {}
    handle = block_attn.register_forward_hook(
        lambda module, args, out: seen.update(args=args, out=out))
    with torch.no_grad():
        model(golden['cases'][0]['input'][:1], mode='tensor')
    handle.remove()
    x, hw = seen['args'][:2]
    if isinstance(block_attn, mmagent.models.layers.attention.agent
                  .AgentAttention):
        drop_in = AgentAttention(
            block_attn.embed_dims, block_attn.num_heads,
            block_attn.agent_num, bias_size=block_attn.bias_hw)
        assert drop_in.agent_shape == block_attn.agent_shape
    else:
        drop_in = FocusedLinearAttention(
            block_attn.embed_dims, block_attn.num_heads,
            focusing_factor=block_attn.focusing_factor,
            kernel_size=block_attn.dwc.kernel_size[0],
            pos_size=block_attn.kv_pretrain_hw)
    drop_in.load_state_dict(block_attn.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(drop_in.eval()(x, hw), seen['out'])
