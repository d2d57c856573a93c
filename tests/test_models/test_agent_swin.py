import pytest
import torch
from conftest import TINY_SWIN

from mmagent import AgentSwinTransformer
from mmagent.models.layers import (AgentAttention, WindowAttention,
                                   parse_block_codes)

PAPER_PARAMS_M = dict(t=28.14, s=48.90, b=87.07)


@pytest.mark.parametrize('arch', ['t', 's', 'b'])
def test_preset_parameter_counts(arch):
    model = AgentSwinTransformer(arch=arch)
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 2) == PAPER_PARAMS_M[arch]


def test_block_layout_of_swin_b():
    """'AAMB2': stage 3 is 2 agent then 16 window blocks; odd blocks of the
    window part shift (the parity counts agent blocks), agent blocks never
    shift, and stage 4 shifts its odd block."""
    model = AgentSwinTransformer(arch='b')
    stage3 = [b.attn for b in model.layers[2].blocks]
    assert [type(a).__name__[0] for a in stage3] == ['A'] * 2 + ['W'] * 16
    assert [a.shift_size for a in stage3[2:6]] == [0, 3, 0, 3]
    assert [b.attn.shift_size for b in model.layers[3].blocks] == [0, 3]
    assert all(isinstance(b.attn, AgentAttention)
               for b in model.layers[0].blocks)
    assert model.layers[0].blocks[0].attn.agent_shape == (9, 9)
    assert model.layers[2].blocks[0].attn.bias_hw == (14, 14)
    assert stage3[2].window_size == 7


def test_parse_block_codes_errors():
    assert parse_block_codes('AAAB', [1, 1, 2, 2])[3] == ['B', 'B']
    for bad in ('AAB', 'AAMB', 'AAXB', 'AAAB2', 'AAMBx'):
        with pytest.raises(ValueError, match='attn_type'):
            parse_block_codes(bad, [2, 2, 2, 2])


def test_official_kwargs_accepted():
    model = AgentSwinTransformer(
        img_size=224, patch_size=4, in_chans=3, num_classes=80,
        embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
        window_size=56, mlp_ratio=4, qkv_bias=True, qk_scale=None,
        drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1, ape=False,
        patch_norm=True, out_indices=(0, 1, 2, 3), use_checkpoint=False,
        agent_num=[9, 16, 49, 49],
        downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)],
        kernel_size=3, attn_type='AAAB', scale=-0.5)
    preset = AgentSwinTransformer(arch='t')
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in preset.state_dict().items()}
    with pytest.raises(NotImplementedError, match='ape'):
        AgentSwinTransformer(ape=True)


@pytest.mark.parametrize('hw', [(32, 32), (64, 2048), (333, 517)])
@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('training', [True, False])
def test_any_input_size(hw, batch, training):
    model = AgentSwinTransformer(**TINY_SWIN).train(training)
    outs = model(torch.randn(batch, 3, *hw))
    h, w = -(-hw[0] // 4), -(-hw[1] // 4)  # pads, then ceil per merge
    for i, out in enumerate(outs):
        assert out.shape == (batch, 16 * 2**i, h, w)
        assert torch.isfinite(out).all()
        h, w = -(-h // 2), -(-w // 2)


def test_mmdet_reference_shapes():
    """Same shapes as mmdet's Swin-T test at 112x137."""
    outs = AgentSwinTransformer(arch='t').eval()(torch.randn(1, 3, 112, 137))
    assert [tuple(o.shape) for o in outs] == [
        (1, 96, 28, 35), (1, 192, 14, 18), (1, 384, 7, 9), (1, 768, 4, 5)]


def test_out_indices_and_norms():
    model = AgentSwinTransformer(**TINY_SWIN, out_indices=(2, 3)).eval()
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128]


def test_frozen_stages():
    model = AgentSwinTransformer(**TINY_SWIN, frozen_stages=1).train()
    for name, param in model.named_parameters():
        frozen = name.startswith(('patch_embed.', 'layers.0.', 'norm0.'))
        assert param.requires_grad != frozen, name
    assert not model.layers[0].training and model.layers[1].training
    assert not model.norm0.training and model.norm1.training
    model = AgentSwinTransformer(**TINY_SWIN, frozen_stages=4).train()
    assert not any(p.requires_grad for p in model.parameters())


def test_norm_eval():
    model = AgentSwinTransformer(**TINY_SWIN, norm_eval=True).train()
    assert not model.norm0.training
    assert not model.layers[0].blocks[0].norm1.training
    assert model.layers[0].blocks[0].mlp.training


def test_with_cp_same_gradients():
    ref = AgentSwinTransformer(**TINY_SWIN).train()
    ckpt = AgentSwinTransformer(**TINY_SWIN, use_checkpoint=True).train()
    ckpt.load_state_dict(ref.state_dict())
    assert ckpt.layers[0].blocks[0].with_cp
    x = torch.randn(2, 3, 64, 80)
    for model in (ref, ckpt):
        sum(o.sum() for o in model(x)).backward()
    for (name, p), q in zip(ref.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_shift_window_mask_cached_only_in_fast_mode():
    x = torch.randn(1, 20 * 20, 16)
    fast = WindowAttention(16, 2, 7, shift_size=3).eval()
    exact = WindowAttention(16, 2, 7, shift_size=3, exact=True).eval()
    exact.load_state_dict(fast.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fast(x, (20, 20)), exact(x, (20, 20)))
    assert list(fast._mask_cache) == [((21, 21), x.device)]
    assert not exact._mask_cache


@pytest.mark.parametrize('hw', [(32, 32), (64, 2048), (333, 517)])
@pytest.mark.slow
def test_presets_any_input_size(hw):
    """The real presets too: batch 3, train and eval."""
    from mmagent import AgentPVT
    for model in (AgentPVT(arch='t'), AgentSwinTransformer(arch='t')):
        for training in (True, False):
            outs = model.train(training)(torch.randn(3, 3, *hw))
            assert len(outs) == 4 and all(o.shape[0] == 3 for o in outs)
            assert all(torch.isfinite(o).all() for o in outs)
