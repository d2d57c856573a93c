"""Agent-CSWin: golden parity with the official classifier, the presets'
parameter counts, any input size, freezing, and the stripe attention's
padding."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.models.backbones import AgentCSWin
from mmagent.models.layers import (ATTENTIONS, AgentAttention,
                                   register_attention)
from mmagent.models.layers.attention import STAGE_CODES
from mmagent.models.layers.attention.stripe import StripeAttention

# The golden fixture's model (official kwargs), without dropout.
TINY_CSWIN = dict(
    embed_dim=16, depth=[1, 2, 2, 1], split_size=[1, 2, 7, 7],
    num_heads=[2, 2, 4, 4], drop_path_rate=0.)
OFFICIAL_384 = dict(split_size=[1, 2, 12, 12], la_split_size='96-48-24-12',
                    img_size=384)


def relative_error(ours, ref):
    return ((ours - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize('exact', [False, True])
def test_golden_classifier(golden_dir, exact):
    """Official CSWinTransformer features and logits: the official final
    ``norm`` is our ``norm3``, the head applied by hand."""
    golden = torch.load(osp.join(golden_dir, 'agent_cswin_cls_golden.pth'),
                        weights_only=False)
    state_dict = {('norm3.' + k[len('norm.'):] if k.startswith('norm.')
                   else k): v
                  for k, v in golden['state_dict'].items()
                  if not k.startswith('head.')}
    model = AgentCSWin(**golden['kwargs'], out_indices=(3, ),
                       exact=exact).eval()
    assert model.norm3.eps == golden['layer_norm_eps']
    model.load_state_dict(state_dict, strict=True)
    head = golden['state_dict']
    for case in golden['cases']:
        with torch.no_grad():
            features = model(case['input'])[0].mean((2, 3))
        logits = F.linear(features, head['head.weight'], head['head.bias'])
        assert relative_error(features, case['features']) <= 1e-4
        assert relative_error(logits, case['logits']) <= 1e-4


# Official models with a 1000-way head. The paper rounds T to 21M, but the
# official Agent_CSWin_64_24181_tiny_224 has 20.46M (its structure is the
# one the golden test checks); S, B and B-384 match the paper's 33M/73M/73M.
PARAMS_M = {'t': 20.46, 's': 32.81, 'b': 73.25, 'b-384': 73.33}


@pytest.mark.parametrize('name', ['t', 's', 'b', 'b-384'])
def test_preset_parameter_counts(name):
    arch, _, size = name.partition('-')
    model = AgentCSWin(arch=arch, out_indices=(3, ),
                       **(OFFICIAL_384 if size else {}))
    width = model.num_features[-1]
    count = sum(p.numel() for p in model.parameters()) + width * 1000 + 1000
    assert round(count / 1e6, 2) == PARAMS_M[name]
    if arch != 't':
        assert round(count / 1e6) == (33 if arch == 's' else 73)


def test_block_layout():
    """Agent blocks: one whole-map branch with all channels and the agent
    grid of the stage; stripe blocks: two half-width branches, except in
    the last stage (one whole-map branch)."""
    model = AgentCSWin(arch='t')
    first = model.stage1[0]
    assert len(first.attns) == 1 and isinstance(first.attns[0],
                                                AgentAttention)
    assert first.attns[0].bias_hw == (56, 56)
    assert first.attns[0].agent_shape == (3, 3)
    assert first.attns[0].get_v.weight.shape == (64, 1, 3, 3)
    stripes = model.stage3[0].attns
    assert [(a.branch, a.split_size, a.embed_dims, a.num_heads)
            for a in stripes] == [(0, 7, 128, 4), (1, 7, 128, 4)]
    last = model.stage4[0].attns
    assert len(last) == 1 and last[0].branch == -1 and \
        last[0].embed_dims == 512


@pytest.mark.parametrize('attn_type', ['AABB', 'BBBB'])
@pytest.mark.parametrize('exact', [False, True])
def test_any_input_size(attn_type, exact):
    """Non-square, not a multiple of the stripes (13x17 at stage 3 with
    split 7): every stage pads its stripes and stays finite."""
    model = AgentCSWin(**TINY_CSWIN, attn_type=attn_type, exact=exact).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 200, 260))
    h, w = (200 - 3) // 4 + 1, (260 - 3) // 4 + 1  # the 7x7/4 pad-2 stem
    for i, out in enumerate(outs):
        assert out.shape == (1, 16 * 2**i, h, w)
        assert torch.isfinite(out).all()
        h, w = -(-h // 2), -(-w // 2)


def test_out_indices_and_frozen_stages():
    model = AgentCSWin(**TINY_CSWIN, out_indices=(1, 3), frozen_stages=1)
    model.train()
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')
    for name, param in model.named_parameters():
        frozen = name.startswith(('stage1_conv_embed.', 'stage1.', 'merge1.'))
        assert param.requires_grad != frozen, name
    assert not model.stage1.training and not model.merge1.training
    assert model.stage2.training and model.merge2.training
    outs = model(torch.randn(1, 3, 64, 96))
    assert [o.shape for o in outs] == [(1, 32, 8, 12), (1, 128, 2, 3)]
    model = AgentCSWin(**TINY_CSWIN, frozen_stages=4)
    assert not any(p.requires_grad for p in model.parameters())


def test_norm_eval_and_with_cp():
    model = AgentCSWin(**TINY_CSWIN, norm_eval=True).train()
    assert not model.norm0.training and not model.stage1[0].norm1.training
    assert model.stage1[0].mlp.training
    ref = AgentCSWin(**TINY_CSWIN).train()
    ckpt = AgentCSWin(**TINY_CSWIN, use_chk=True).train()
    ckpt.load_state_dict(ref.state_dict())
    assert ckpt.stage3[0].with_cp
    x = torch.randn(1, 3, 64, 64)
    for model in (ref, ckpt):
        sum(o.sum() for o in model(x)).backward()
    for (name, p), q in zip(ref.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_official_checkpoint_loads(golden_dir, tmp_path):
    """An official ImageNet checkpoint ({'model': ...}, with ``norm`` and
    ``head``) loads; the output norms stay at init."""
    golden = torch.load(osp.join(golden_dir, 'agent_cswin_cls_golden.pth'),
                        weights_only=False)
    path = str(tmp_path / 'official.pth')
    torch.save({'model': golden['state_dict']}, path)
    model = AgentCSWin(**golden['kwargs'],
                       init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    torch.testing.assert_close(model.stage3[1].attns[1].get_v.weight,
                               golden['state_dict']['stage3.1.attns.1.get_v.'
                                                    'weight'])


def test_official_kwargs_errors():
    with pytest.raises(TypeError, match="'split_sizes'.*did you mean "
                       'split_size'):
        AgentCSWin(split_sizes=[1, 2, 7, 7])
    with pytest.raises(ValueError, match=r'la_split_size\[0\] = 7.*56x56.*'
                       'windowed agent or focused linear attention is '
                       'not supported'):
        AgentCSWin(la_split_size='7-7-7-7')
    with pytest.raises(ValueError, match='patch_size must be 4'):
        AgentCSWin(patch_size=16)
    with pytest.raises(ValueError, match='num_heads .3. .* must be even'):
        AgentCSWin(**dict(TINY_CSWIN, num_heads=[2, 2, 3, 4]))
    with pytest.raises(ValueError, match='at least 3x3'):
        AgentCSWin(**TINY_CSWIN)(torch.randn(1, 3, 2, 9))
    # string forms of the official configs
    model = AgentCSWin(**TINY_CSWIN, la_split_size='56-28-14-7',
                       agent_num=['9', '16', '49', '49'], num_classes=10,
                       hybrid_backbone=None, in_chans=3, mlp_ratio=4.)
    assert model.stage2[0].attns[0].agent_num == 16


# ---------------------------------------------------------------------------
# the stripe kind
# ---------------------------------------------------------------------------
def stripe_reference(attn, q, k, v, hw):
    """Explicit attention + LePE on each stripe's real tokens only (the last
    stripe narrower when the map is not a multiple of the split)."""
    B, _, C = q.shape
    H, W = hw
    h, d = attn.num_heads, attn.head_dims
    q, k, v = (t.reshape(B, H, W, C) for t in (q, k, v))
    s = attn.split_size
    if attn.branch == 0:
        windows = [(0, H, c, min(c + s, W)) for c in range(0, W, s)]
    elif attn.branch == 1:
        windows = [(r, min(r + s, H), 0, W) for r in range(0, H, s)]
    else:
        windows = [(0, H, 0, W)]
    out = torch.zeros_like(q)
    for r0, r1, c0, c1 in windows:
        qw, kw, vw = (t[:, r0:r1, c0:c1].reshape(B, -1, h, d).transpose(1, 2)
                      for t in (q, k, v))
        weights = (qw @ kw.transpose(-2, -1) * attn.scale).softmax(-1)
        x = (weights @ vw).transpose(1, 2).reshape(B, r1 - r0, c1 - c0, C)
        lepe = attn.get_v(v[:, r0:r1, c0:c1].permute(0, 3, 1, 2))
        out[:, r0:r1, c0:c1] = x + lepe.permute(0, 2, 3, 1)
    return out.reshape(B, H * W, C)


@pytest.mark.parametrize('exact', [False, True])
@pytest.mark.parametrize('branch', [0, 1, -1])
@pytest.mark.parametrize('hw', [(6, 8), (5, 7), (3, 2)])
def test_stripe_matches_per_window_reference(exact, branch, hw):
    """Multiples of the split and not: padded keys get no weight, so each
    real token sees exactly the real tokens of its stripe."""
    attn = StripeAttention(16, 2, split_size=2 if branch else 3,
                           branch=branch, exact=exact).eval()
    n = hw[0] * hw[1]
    qkv = torch.randn(3, 2, n, 16) * 3
    with torch.no_grad():
        out = attn(tuple(qkv), hw)
        ref = stripe_reference(attn, *qkv, hw)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_stripe_takes_channel_slices():
    """The block hands over non-contiguous channel halves of one qkv."""
    attn = StripeAttention(8, 2, split_size=2, branch=1).eval()
    qkv = torch.randn(2, 12, 3, 16)
    q, k, v = (t[..., 8:] for t in qkv.unbind(2))
    with torch.no_grad():
        out = attn((q, k, v), (3, 4))
        ref = attn(tuple(t.contiguous() for t in (q, k, v)), (3, 4))
    torch.testing.assert_close(out, ref)


def test_self_contained_kind_builds_into_cswin():
    """A registered kind with its own qkv/proj (the docs' example) takes the
    whole block's attention: no qkv/proj in the block."""

    @register_attention('global_softmax_cswin', code='G')
    class GlobalSoftmax(nn.Module):

        def __init__(self, embed_dims, num_heads):
            super().__init__()
            self.num_heads = num_heads
            self.qkv = nn.Linear(embed_dims, embed_dims * 3)
            self.proj = nn.Linear(embed_dims, embed_dims)

        def forward(self, x, hw_shape):
            B, N, C = x.shape
            q, k, v = self.qkv(x).view(B, N, 3, self.num_heads, -1).permute(
                2, 0, 3, 1, 4)
            x = F.scaled_dot_product_attention(q, k, v)
            return self.proj(x.transpose(1, 2).reshape(B, N, C))

    try:
        model = AgentCSWin(**TINY_CSWIN, attn_type='GABB').eval()
        block = model.stage1[0]
        assert isinstance(block.attns[0], GlobalSoftmax)
        assert not hasattr(block, 'qkv') and not hasattr(block, 'proj')
        assert isinstance(model.stage2[0].attns[0], AgentAttention)
        outs = model(torch.randn(1, 3, 64, 64))
        assert all(torch.isfinite(o).all() for o in outs)
    finally:
        ATTENTIONS._module_dict.pop('global_softmax_cswin')
        STAGE_CODES.pop('G')
