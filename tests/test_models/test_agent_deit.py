"""Agent-DeiT: the class token through agent attention, output types,
freezing, official kwargs and the fast path against the exact one."""
import os.path as osp

import pytest
import torch

from mmagent.models.backbones import AgentDeiT
from mmagent.models.layers import AgentAttention

TINY = dict(embed_dims=24, depth=3, num_heads=3, agent_num=9,
            agent_layer=2)


def test_block_kinds_follow_agent_layer():
    model = AgentDeiT(**TINY)
    kinds = [type(b.attn).__name__ for b in model.blocks]
    assert kinds == ['AgentAttention', 'AgentAttention', 'GlobalAttention']
    attn = model.blocks[0].attn
    assert attn.ac_bias.shape == (1, 3, 9, 1)
    assert attn.ca_bias.shape == (1, 3, 1, 9)
    assert attn.bias_hw == (14, 14)
    plain = AgentDeiT(**dict(TINY, agent_layer=None), attn_type='B')
    assert {type(b.attn).__name__ for b in plain.blocks} == {
        'GlobalAttention'}


@pytest.mark.parametrize('out_type,shape', [
    ('cls_token', (2, 24)), ('avg_featmap', (2, 24)),
    ('featmap', (2, 24, 10, 12)), ('raw', (2, 1 + 120, 24))])
def test_output_types_at_another_size(out_type, shape):
    """A 160x192 input: 10x12 patches, the position embedding resized."""
    model = AgentDeiT(**TINY, out_type=out_type, out_indices=(0, -1)).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 160, 192))
    assert [tuple(o.shape) for o in outs] == [shape, shape]


def test_class_token_is_neither_pooled_nor_convolved():
    """The module's own pooling and DWC: the class token's query moves no
    agent and its value no DWC output, while a patch token's do; the class
    token's output gets no DWC term."""
    torch.manual_seed(0)
    attn = AgentAttention(24, 3, agent_num=9, agent_shape=(3, 3),
                          pretrain_hw=(6, 6), num_extra_tokens=1,
                          exact=True).eval()
    hw = (6, 6)

    def moved(t, index):
        t = t.clone()
        t[..., index, :] += 1.
        return t

    q = torch.randn(1, 1 + 36, 24)
    agents = attn.pool_agents(q, hw)
    assert torch.equal(attn.pool_agents(moved(q, 0), hw), agents)
    assert not torch.allclose(attn.pool_agents(moved(q, 5), hw), agents)
    out, v = torch.randn(2, 1, 3, 37, 8).unbind(0)  # (B, heads, 1+36, d)
    with torch.no_grad():
        mixed = attn.add_dwc(out, v, hw)
        assert torch.equal(attn.add_dwc(out, moved(v, 0), hw), mixed)
        assert not torch.allclose(attn.add_dwc(out, moved(v, 5), hw), mixed)
    cls_out = out.transpose(1, 2).reshape(1, 37, 24)[:, 0]
    assert torch.equal(mixed[:, 0], cls_out)


@pytest.mark.parametrize('agent_shape', [(3, 3), (4, 5)])
def test_fast_path_matches_exact_with_class_token(agent_shape):
    torch.manual_seed(0)
    exact = AgentAttention(24, 3, agent_num=9, agent_shape=agent_shape,
                           pretrain_hw=(14, 14), num_extra_tokens=1,
                           exact=True).eval()
    fast = AgentAttention(24, 3, agent_num=9, agent_shape=agent_shape,
                          pretrain_hw=(14, 14), num_extra_tokens=1).eval()
    fast.load_state_dict(exact.state_dict())
    x = torch.randn(2, 1 + 10 * 12, 24)
    with torch.no_grad():
        ref, out = exact(x, (10, 12)), fast(x, (10, 12))
    assert (out - ref).abs().max() / ref.abs().max() < 1e-5


def test_frozen_stages():
    model = AgentDeiT(**TINY, frozen_stages=3)
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert 'cls_token' in frozen and 'pos_embed' in frozen
    assert 'patch_embed.proj.weight' in frozen and 'norm.weight' in frozen
    assert all(not p.requires_grad for p in model.parameters())
    assert not model.blocks[2].training
    partly = AgentDeiT(**TINY, frozen_stages=1)
    assert partly.blocks[1].attn.qkv.weight.requires_grad
    assert not partly.blocks[0].attn.qkv.weight.requires_grad


def test_official_kwargs_and_errors():
    model = AgentDeiT(img_size=224, patch_size=16, num_classes=10,
                      embed_dim=24, depth=2, num_heads=3, mlp_ratio=4.,
                      qkv_bias=True, agent_num=[9, 9], agent_layer=2)
    assert model.embed_dims == 24
    with pytest.raises(TypeError, match='did you mean agent_num'):
        AgentDeiT(**TINY, agent_nums=9)
    with pytest.raises(ValueError, match='agent_layer must be in'):
        AgentDeiT(**dict(TINY, agent_layer=5))
    with pytest.raises(ValueError, match='one per agent block'):
        AgentDeiT(**dict(TINY, agent_num=[9]))
    with pytest.raises(ValueError, match='out_type must be one of'):
        AgentDeiT(**TINY, out_type='tokens')


@pytest.mark.parametrize('arch,params', [('t', 5_822_640), ('s', 22_262_112),
                                         ('b', 86_435_904)])
def test_arch_presets(arch, params):
    """Backbone parameters (the ImageNet head adds C * 1000 + 1000)."""
    model = AgentDeiT(arch=arch)
    assert sum(p.numel() for p in model.parameters()) == params


def test_loads_official_imagenet_checkpoint(tmp_path, golden_dir):
    golden = torch.load(osp.join(golden_dir, 'agent_deit_cls_golden.pth'),
                        weights_only=False)
    path = tmp_path / 'agent_deit.pth'
    torch.save({'model': golden['state_dict']}, path)
    model = AgentDeiT(**golden['kwargs'], init_cfg=dict(
        type='Pretrained', checkpoint=str(path))).eval()
    model.init_weights()
    case = golden['cases'][0]
    with torch.no_grad():
        features = model(case['input'])[0]
    error = (features - case['features']).abs().max() / \
        case['features'].abs().max()
    assert error <= 1e-4
