import pytest
import torch
from conftest import TINY_PVT

from mmagent import AgentPVT

PAPER_PARAMS_M = dict(t=11.06, s=20.12, m=35.41, l=48.23)


@pytest.mark.parametrize('arch', ['t', 's', 'm', 'l'])
def test_preset_parameter_counts(arch):
    model = AgentPVT(arch=arch)
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 2) == PAPER_PARAMS_M[arch]


def test_preset_matches_official_downstream_settings():
    model = AgentPVT(arch='s')
    assert model.arch_settings['depths'] == [3, 4, 6, 3]
    attn = model.block3[0].attn
    assert attn.agent_shape == (28, 28) and attn.agent_num == 49
    assert attn.bias_hw == (14, 14)
    assert model.pos_embed1.shape == (1, 3136, 64)
    # Same model as the official kwargs spelled out.
    official = AgentPVT(
        img_size=224, patch_size=4, in_chans=3, num_classes=80,
        embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
        mlp_ratios=[8, 8, 4, 4], qkv_bias=True, qk_scale=None,
        drop_rate=0., attn_drop_rate=0., drop_path_rate=0.2,
        depths=[3, 4, 6, 3], sr_ratios=[8, 4, 2, 1], agent_sr_ratios='1111',
        num_stages=4, agent_num=[9, 16, 49, 49],
        downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)],
        kernel_size=3, attn_type='AAAA', scale=-0.5)
    assert {k: v.shape for k, v in official.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def test_arch_errors():
    with pytest.raises(ValueError, match='unknown arch'):
        AgentPVT(arch='xl')
    with pytest.raises(ValueError, match='custom arch dict'):
        AgentPVT(arch=dict(embed_dims=[8, 16, 32, 64]))
    with pytest.raises(ValueError, match='one per stage'):
        AgentPVT(depths=[1, 1, 1])
    with pytest.raises(ValueError, match='perfect square'):
        AgentPVT(**TINY_PVT, agent_num=[9, 16, 49, 50])
    with pytest.raises(NotImplementedError, match='agent_sr_ratios'):
        AgentPVT(**TINY_PVT, agent_sr_ratios='2111')
    with pytest.raises(ValueError, match='num_stages'):
        AgentPVT(num_stages=3)
    with pytest.raises(TypeError, match='unexpected keyword'):
        AgentPVT(not_an_arg=1)
    with pytest.raises(TypeError, match='alias'):
        AgentPVT(img_size=224, pretrain_img_size=224)


@pytest.mark.parametrize('hw', [(32, 32), (64, 2048), (333, 517)])
@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('training', [True, False])
def test_any_input_size(hw, batch, training):
    model = AgentPVT(**TINY_PVT).train(training)
    outs = model(torch.randn(batch, 3, *hw))
    # Floor at every stage, no padding (official behaviour).
    h, w = hw[0] // 4, hw[1] // 4
    for i, out in enumerate(outs):
        assert out.shape == (batch, TINY_PVT['embed_dims'][i], h, w)
        assert torch.isfinite(out).all()
        h, w = h // 2, w // 2


def test_floor_without_padding_shapes():
    outs = AgentPVT(**TINY_PVT).eval()(torch.randn(1, 3, 512, 683))
    assert [tuple(o.shape[-2:]) for o in outs] == \
        [(128, 170), (64, 85), (32, 42), (16, 21)]


def test_pos_embed_resized_per_stage_grid():
    """Upstream crashes at 512x1568 (stage 3 has 32x98 = 3136 tokens, the
    stage-1 patch count); a stage at its own grid keeps pos_embed as is."""
    model = AgentPVT(arch='t').eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 512, 1568))
    assert outs[2].shape == (1, 320, 32, 98)
    assert model._pos_embed(3, (14, 14)) is model.pos_embed3
    # Non-square map with the stage-1 token count is resized, not reused.
    resized = model._pos_embed(1, (28, 112))
    assert resized.shape == (1, 3136, 64)
    assert not torch.equal(resized, model.pos_embed1)


def test_out_indices():
    model = AgentPVT(**TINY_PVT, out_indices=(1, 3)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 64]
    with pytest.raises(ValueError, match='out_indices'):
        AgentPVT(**TINY_PVT, out_indices=(4, ))


def test_frozen_stages():
    model = AgentPVT(**TINY_PVT, frozen_stages=2)
    model.train()
    frozen = ['patch_embed1', 'pos_embed1', 'block1', 'patch_embed2',
              'pos_embed2', 'block2']
    for name, param in model.named_parameters():
        expect_frozen = any(name.startswith(f + '.') or name == f
                            for f in frozen)
        assert param.requires_grad != expect_frozen, name
    assert not model.block2.training and model.block3.training
    # 0 freezes only the stage-1 embedding.
    model = AgentPVT(**TINY_PVT, frozen_stages=0).train()
    assert not model.pos_embed1.requires_grad
    assert all(p.requires_grad for p in model.block1.parameters())
    with pytest.raises(ValueError, match='frozen_stages'):
        AgentPVT(**TINY_PVT, frozen_stages=5)


def test_norm_eval():
    model = AgentPVT(**TINY_PVT, norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and not any(m.training for m in norms)
    assert model.block1[0].attn.training


def test_train_returns_self():
    model = AgentPVT(**TINY_PVT)
    assert model.eval() is model and model.train() is model


def test_with_cp_same_gradients():
    torch.manual_seed(1)
    ref = AgentPVT(**TINY_PVT).train()
    ckpt = AgentPVT(**TINY_PVT, with_cp=True).train()
    ckpt.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 64, 96)
    for model in (ref, ckpt):
        sum(o.sum() for o in model(x)).backward()
    for (name, p), q in zip(ref.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_spatial_reduction_blocks():
    """'B' stages use PVT's spatial-reduction softmax attention."""
    model = AgentPVT(**TINY_PVT, attn_type='AABB', sr_ratios=[8, 4, 2, 1])
    attn = model.block3[0].attn
    assert type(attn).__name__ == 'SpatialReductionAttention'
    assert attn.sr.stride == (2, 2) and not hasattr(model.block4[0].attn, 'sr')
    outs = model.eval()(torch.randn(1, 3, 96, 64))
    assert outs[3].shape == (1, 64, 3, 2)
