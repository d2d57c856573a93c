"""Focused linear attention (FLatten): the kind against the paper's formula
written out with the full N x n map, any input size, the sr_ratio path,
fp32 products under reduced-precision autocast, and the official FLatten
classifiers (PVT v1, Swin) reproduced through the converter, in both
paths."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from conftest import block_context
from golden_models import classifier_config

from mmagent.apis import check_fits_config, convert_checkpoint
from mmagent.models.backbones import (FLattenCSWin, FLattenPVT,
                                      FLattenPVTv2, FLattenSwinTransformer)
from mmagent.models.layers.attention import (STAGE_CODES, block_kinds,
                                             build_attention)


def build(hw=(7, 7), fused_qkv=True, **kwargs):
    context = block_context(pretrain_hw=hw, fused_qkv=fused_qkv,
                            kernel_size=5)
    attn = build_attention('focused_linear', context, kwargs).eval()
    with torch.no_grad():  # non-trivial values for the zero-initialised
        attn.scale.normal_(0, 0.5)
        attn.positional_encoding.normal_(0, 0.5)
    return attn


def focus(x, scale, p):
    """f_p(ReLU(x) / softplus(scale)), norms over all channels."""
    x = (F.relu(x) + 1e-6) / F.softplus(scale)
    powered = x**p
    return powered * x.norm(dim=-1, keepdim=True) / powered.norm(
        dim=-1, keepdim=True)


def reference(attn, q, k, v, hw, pos, with_dwc=True):
    """The paper's O = phi(Q) phi(K)^T V / rowsum + DWC(V), with the
    ``N x n`` map materialised, head by head."""
    B, N, C = q.shape
    h, d = attn.num_heads, attn.head_dims
    qf = focus(q, attn.scale, attn.focusing_factor)
    kf = focus(k + pos, attn.scale, attn.focusing_factor)
    out = torch.empty_like(q)
    n = k.shape[1]
    for head in range(h):
        sl = slice(head * d, (head + 1) * d)
        sim = qf[..., sl] @ kf[..., sl].transpose(1, 2)  # (B, N, n)
        out[..., sl] = (sim @ v[..., sl]) / (
            sim.sum(-1, keepdim=True) + n * 1e-6)
    if not with_dwc:
        return out
    dwc = torch.cat([
        attn.dwc(v[..., head * d:(head + 1) * d].transpose(1, 2).reshape(
            B, d, *hw)) for head in range(h)
    ], 1)
    return out + dwc.flatten(2).transpose(1, 2)


@pytest.mark.parametrize('exact', [False, True])
def test_matches_the_formula_with_the_full_map(exact):
    attn = build(exact=exact)
    x = torch.randn(2, 49, 32)
    with torch.no_grad():
        q, k, v = attn.qkv(x).chunk(3, dim=-1)
        expected = attn.proj(reference(attn, q, k, v, (7, 7),
                                       attn.positional_encoding))
        out = attn(x, (7, 7))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_any_size_resizes_the_position_encoding_as_a_map():
    """On a 5x9 map the 7x7 encoding enters as a bilinear 2-D resize of
    the 7x7 grid (not a 1-D resample of the sequence); gradients reach the
    encoding and the temperature."""
    attn = build(hw=(7, 7))
    x = torch.randn(1, 5 * 9, 32, requires_grad=True)
    out = attn(x, (5, 9))
    with torch.no_grad():
        q, k, v = attn.qkv(x).chunk(3, dim=-1)
        grid = attn.positional_encoding.reshape(1, 7, 7, 32).permute(
            0, 3, 1, 2)
        pos = F.interpolate(grid, size=(5, 9), mode='bilinear',
                            align_corners=False).flatten(2).transpose(1, 2)
        expected = attn.proj(reference(attn, q, k, v, (5, 9), pos))
        sequence = F.interpolate(attn.positional_encoding.transpose(1, 2),
                                 size=45, mode='linear').transpose(1, 2)
        wrong = attn.proj(reference(attn, q, k, v, (5, 9), sequence))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out, wrong, atol=1e-3)
    out.sum().backward()
    assert attn.positional_encoding.grad.abs().sum() > 0
    assert attn.scale.grad.abs().sum() > 0


def test_sr_ratio_reduces_keys_and_resizes_v_as_a_map():
    attn = build(hw=(8, 8), fused_qkv=False, sr_ratio=2)
    assert attn.positional_encoding.shape == (1, 16, 32)
    x = torch.randn(2, 8 * 12, 32)
    with torch.no_grad():
        out = attn(x, (8, 12))
        reduced = attn.sr(x.transpose(1, 2).reshape(2, 32, 8, 12))
        assert reduced.shape[-2:] == (4, 6)
        kv_in = attn.norm(reduced.flatten(2).transpose(1, 2))
        k, v = attn.kv(kv_in).chunk(2, dim=-1)
        q = attn.q(x)
        pos = F.interpolate(
            attn.positional_encoding.reshape(1, 4, 4, 32).permute(0, 3, 1, 2),
            size=(4, 6), mode='bilinear', align_corners=False)
        pos = pos.flatten(2).transpose(1, 2)
        # the attention part with the full map; V is brought back to 8x12
        # as a 2-D map before the DWC, as the official code does in 1-D
        h, d = attn.num_heads, attn.head_dims
        no_dwc = reference(attn, q, k, v, (4, 6), pos, with_dwc=False)
        dwc = torch.cat([
            attn.dwc(F.interpolate(
                v[..., i * d:(i + 1) * d].transpose(1, 2).reshape(2, d, 4, 6),
                size=(8, 12), mode='bilinear', align_corners=False))
            for i in range(h)
        ], 1).flatten(2).transpose(1, 2)
        expected = attn.proj(no_dwc + dwc)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_products_stay_fp32_under_autocast(dtype):
    """Activations whose cube overflows fp16 (|x| ~ 60): the module's sums
    and normaliser run in fp32, so the output is finite and close to the
    fp32 result; the backward is finite too."""
    attn = build(hw=(16, 16)).train()
    x = (torch.randn(1, 256, 32) * 60).requires_grad_()
    with torch.no_grad():
        expected = attn(x, (16, 16))
    with torch.autocast('cpu', dtype=dtype):
        out = attn(x, (16, 16))
    assert out.dtype == dtype and torch.isfinite(out).all()
    error = (out.float() - expected).abs().max() / expected.abs().max()
    assert error < 2e-2, error
    out.float().sum().backward()
    assert torch.isfinite(x.grad).all()


def test_stage_code_and_bad_arguments():
    assert STAGE_CODES['L'] == 'focused_linear'
    assert block_kinds('LLSS', [2, 2, 2, 2], 'window') == [
        ['focused_linear'] * 2] * 2 + [['window'] * 2] * 2
    assert block_kinds('LLML1', [2, 2, 2, 2], 'window')[2] == [
        'focused_linear', 'window']
    with pytest.raises(ValueError, match='sr_ratio > 1 needs'):
        build(sr_ratio=2)
    with pytest.raises(ValueError, match='kernel_size must be odd'):
        build(kernel_size=4)
    with pytest.raises(ValueError, match='sr_ratio must be an integer'):
        build(fused_qkv=False, sr_ratio=0)
    with pytest.raises(NotImplementedError, match='class token'):
        build(num_extra_tokens=1)


# ------------------------------------------------- official classifiers
# fixture -> our classifier config of that family
FLATTEN = {'cswin': 'cswin-t', 'pvt': 'pvt-t', 'pvt_v2': 'pvtv2-b1',
           'swin': 'swin-t'}


def flatten_classifier_config(family, kwargs):
    """The family's FLatten classifier config with the fixture's backbone
    (official kwargs, unchanged) in place of the preset."""
    return classifier_config(f'flatten-{FLATTEN[family]}', kwargs)


@pytest.mark.parametrize('exact', [False, True])
@pytest.mark.parametrize('family', sorted(FLATTEN))
def test_official_flatten_classifier_golden(golden_dir, family, exact):
    """Official state dict -> converter -> strict load -> the official
    features and logits (<= 1e-4 relative, fp32, eval)."""
    import mmpretrain.models  # noqa: F401 (registers ImageClassifier)
    from mmpretrain.registry import MODELS
    golden = torch.load(
        osp.join(golden_dir, f'flatten_{family}_cls_golden.pth'),
        weights_only=False)
    assert golden['repo'] == 'LeapLabTHU/FLatten-Transformer'
    cfg = flatten_classifier_config(family, golden['kwargs'])
    cfg.model.head.in_channels = golden['state_dict']['head.weight'].shape[1]
    cfg.model.backbone.exact = exact
    converted, renamed = convert_checkpoint({'model': golden['state_dict']})
    if family == 'pvt':  # the final norm PVT v1 never applies
        assert ('norm.weight', None) in renamed
    check_fits_config(converted['state_dict'], cfg)  # strict
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted['state_dict'], strict=True)
    for case in golden['cases']:
        with torch.no_grad():
            features = model.extract_feat(case['input'])[-1]
            logits = model(case['input'], mode='tensor')
        for ours, official in ((features, case['features']),
                               (logits, case['logits'])):
            error = (ours - official).abs().max() / official.abs().max()
            assert error <= 1e-4, error


def test_flatten_families_take_official_kwargs_and_run_any_size():
    pvt = FLattenPVT(img_size=224, embed_dims=[16, 32, 48, 64],
                     num_heads=[1, 2, 3, 4], depths=[1, 1, 1, 1],
                     mlp_ratios=[2, 2, 2, 2], focusing_factor=3,
                     la_sr_ratios='1111', num_classes=1000).eval()
    swin = FLattenSwinTransformer(img_size=224, embed_dim=16,
                                  depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
                                  window_size=56, focusing_factor=3,
                                  num_classes=1000, ape=False).eval()
    pvt_v2 = FLattenPVTv2(img_size=224, embed_dims=[16, 32, 48, 64],
                          num_heads=[1, 2, 3, 4], depths=[1, 1, 1, 1],
                          mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1],
                          la_sr_ratios='1111', attn_type='LLSS',
                          focusing_factor=3, kernel_size=5,
                          num_classes=1000).eval()
    assert pvt.block1[0].attn.focusing_factor == 3
    assert pvt.block1[0].attn.dwc.kernel_size == (5, 5)
    assert pvt.block1[0].attn.sr_ratio == 1  # la_sr, not PVT's 8
    # PVTv2: softmax stages keep their reduction, MLPs their DWConv
    assert pvt_v2.block3[0].attn.sr_ratio == 2
    assert pvt_v2.block1[0].mlp.dwconv.dwconv.kernel_size == (3, 3)
    assert pvt_v2.patch_embed1.proj.kernel_size == (7, 7)
    cswin = FLattenCSWin(img_size=224, embed_dim=16, depth=[1, 1, 2, 1],
                         num_heads=[2, 2, 4, 4], split_size=[1, 2, 7, 7],
                         la_split_size='56-28-14-7', focusing_factor=3,
                         kernel_size=5, num_classes=1000).eval()
    assert cswin.stage1[0].attns[0].get_v.kernel_size == (3, 3)  # LePE
    with torch.no_grad():
        for model in (pvt, swin, pvt_v2, cswin):
            outs = model(torch.randn(1, 3, 96, 160))
            assert [o.shape[-2:] for o in outs] == [(24, 40), (12, 20),
                                                    (6, 10), (3, 5)]
    with pytest.raises(TypeError, match='la_sr_ratios'):
        FLattenPVT(agent_sr_ratios='1111')
    with pytest.raises(ValueError, match='la_sr_ratios needs 4 numbers'):
        FLattenPVTv2(arch='b0', la_sr_ratios='11')
    for bad in ('11a1', '1101', '111'):  # a 0 would divide by zero
        with pytest.raises(ValueError, match=r'^la_sr_ratios (needs 4 '
                           r'numbers|must be positive)'):
            FLattenPVT(la_sr_ratios=bad)
    # the official code would window a focused linear stage whose grid is
    # larger than window_size; here those stages are global, so say so
    with pytest.raises(NotImplementedError, match='window_size=28 is '
                       'smaller than the 56x56'):
        FLattenSwinTransformer(arch=dict(
            embed_dims=16, depths=[1] * 4, num_heads=[1, 2, 4, 8],
            attn_type='LLSS'), window_size=28)
    for bad in (0, -2, True, '3'):  # p = 0 maps every feature to 1
        with pytest.raises(ValueError, match='focusing_factor'):
            FLattenPVT(arch='t', focusing_factor=bad)


def test_pvt_v2_outputs_and_frozen_stages():
    model = FLattenPVTv2(arch='b0', out_indices=(1, 3), frozen_stages=2)
    model.train()
    frozen = [model.patch_embed1, model.block1, model.norm1,
              model.patch_embed2, model.block2, model.norm2]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.block3.parameters())
    assert not model.block2.training and model.block3.training
    outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 12),
                                              (1, 256, 2, 3)]


@pytest.mark.parametrize('family', ['pvt', 'swin'])
@pytest.mark.slow
def test_stage1_fp16_at_detection_size_is_finite(family):
    """The stage-1 focused linear block of FLatten-PVT-T / FLatten-Swin-T
    on the 200x334 map of a 1333x800 image (66,800 tokens, where the
    official fp16 sums overflowed) under fp16 autocast: finite forward and
    backward. (The whole backbones at 1333x800, fp16 forward/backward, are
    finite too: README, about 2 minutes each on CPU.)"""
    model = FLattenPVT(arch='t') if family == 'pvt' else \
        FLattenSwinTransformer(arch='t')
    block = model.block1[0] if family == 'pvt' else \
        model.layers[0].blocks[0]
    block.train()
    dims = block.norm1.normalized_shape[0]
    x = (torch.randn(1, 200 * 334, dims) * 3).requires_grad_()
    with torch.autocast('cpu', dtype=torch.float16):
        out = block(x, (200, 334))
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in block.parameters()
               if p.grad is not None)
