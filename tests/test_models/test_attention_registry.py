"""The attention registry: kinds built by name, the official per-stage
codes in one table, and a new kind added by one registration that every
family then builds."""
import pytest
import torch
import torch.nn as nn
from conftest import TINY_PVT, TINY_SWIN, block_context

from mmagent import AgentCSWin, AgentDeiT, AgentPVT, AgentSwinTransformer
from mmagent.models.layers import (ATTENTIONS, AgentAttention,
                                   SpatialReductionAttention,
                                   WindowAttention, block_kinds,
                                   build_attention, register_attention)
from mmagent.models.layers.attention import STAGE_CODES


@pytest.fixture
def global_softmax():
    """The example kind of docs/architecture.md, removed again after."""

    @register_attention('global_softmax', code='G')
    class GlobalSoftmaxAttention(nn.Module):

        def __init__(self, embed_dims, num_heads, qkv_bias=True):
            super().__init__()
            self.num_heads = num_heads
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
            self.proj = nn.Linear(embed_dims, embed_dims)

        def forward(self, x, hw_shape):
            B, N, C = x.shape
            q, k, v = self.qkv(x).view(B, N, 3, self.num_heads, -1).permute(
                2, 0, 3, 1, 4)
            x = nn.functional.scaled_dot_product_attention(q, k, v)
            return self.proj(x.transpose(1, 2).reshape(B, N, C))

    yield GlobalSoftmaxAttention
    ATTENTIONS._module_dict.pop('global_softmax')
    STAGE_CODES.pop('G')


def test_registered_kinds_and_codes():
    assert ATTENTIONS.get('agent') is AgentAttention
    assert ATTENTIONS.get('window') is WindowAttention
    assert ATTENTIONS.get('spatial_reduction') is SpatialReductionAttention
    assert STAGE_CODES['A'] == 'agent'
    assert STAGE_CODES['B'] == STAGE_CODES['S'] == 'softmax'
    assert block_kinds('AAMB2', [1, 1, 3, 1], 'window') == [
        ['agent'], ['agent'], ['agent', 'agent', 'window'], ['window']]


@pytest.mark.parametrize('kind', ['agent', 'focused_linear', 'global',
                                  'spatial_reduction', 'stripe', 'window'])
def test_every_kind_refuses_heads_that_do_not_divide_the_width(kind):
    build_attention(kind, block_context(embed_dims=32, num_heads=4))
    with pytest.raises(ValueError, match=r'embed_dims \(30\) must be '
                       r'divisible by num_heads \(4\)'):
        build_attention(kind, block_context(embed_dims=30, num_heads=4))


def test_build_takes_what_the_kind_names():
    context = block_context(sr_ratio=2, window_size=7, shift_size=3,
                            qkv_bias=False, exact=True)
    window = build_attention('window', context)
    assert (window.window_size, window.shift_size, window.exact) == \
        (7, 3, True) and window.qkv.bias is None
    sra = build_attention('spatial_reduction', context,
                          options=dict(sr_ratio=4))
    assert sra.sr_ratio == 4 and sra.q.bias is None
    with pytest.raises(KeyError, match="unknown attention kind 'agnet'"):
        build_attention('agnet', context)
    with pytest.raises(ValueError, match='already means'):
        register_attention('other', code='A')(nn.Identity)


def test_context_keys_misspelt_or_forgotten_are_errors():
    """A family's misspelt key, a forgotten one and an option the kind does
    not take each stop the build with the kind and the key named, instead
    of the kind silently using its own default."""
    with pytest.raises(TypeError,
                       match="'agent'.*unknown key 'kernal_size'"):
        build_attention('agent', block_context(kernal_size=5))
    forgotten = block_context()
    del forgotten['kernel_size']
    with pytest.raises(ValueError,
                       match="'agent'.*needs the block-context key "
                             "'kernel_size'"):
        build_attention('agent', forgotten)
    # keys with a declared default ("no such feature") may be left out
    agent = build_attention('agent', block_context())
    assert agent.num_extra_tokens == 0
    with pytest.raises(TypeError, match="'window'.*no option 'focusing"):
        build_attention('window', block_context(), dict(focusing_factor=2))


def test_new_kind_in_every_family(global_softmax):
    pvt = AgentPVT(**TINY_PVT, attn_type='GGAA').eval()
    assert isinstance(pvt.block1[0].attn, global_softmax)
    assert isinstance(pvt.block3[0].attn, AgentAttention)
    swin = AgentSwinTransformer(**dict(TINY_SWIN, attn_type='GGMB1')).eval()
    stage3 = [type(b.attn) for b in swin.layers[2].blocks]
    assert stage3 == [global_softmax] + [WindowAttention] * 3
    cswin = AgentCSWin(embed_dims=8, depths=[1, 1, 1, 1],
                       num_heads=[2, 2, 2, 2], attn_type='GGBB').eval()
    assert isinstance(cswin.stage1[0].attns[0], global_softmax)
    for model in (pvt, swin, cswin):
        outs = model(torch.randn(1, 3, 64, 64))
        assert len(outs) == 4 and all(torch.isfinite(o).all() for o in outs)
    deit = AgentDeiT(embed_dims=24, depth=2, num_heads=3, agent_num=9,
                     attn_type='G').eval()
    assert all(isinstance(b.attn, global_softmax) for b in deit.blocks)
    assert deit(torch.randn(1, 3, 64, 64))[0].shape == (1, 24)


def test_attn_cfgs_reach_every_block_of_a_kind():
    model = AgentPVT(**TINY_PVT, attn_cfgs=dict(agent=dict(kernel_size=5)))
    assert model.block2[0].attn.dwc.kernel_size == (5, 5)
    with pytest.raises(ValueError, match="unknown attention kinds.*'agnet'"):
        AgentPVT(**TINY_PVT, attn_cfgs=dict(agnet=dict(kernel_size=5)))
