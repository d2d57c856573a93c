"""BiViT deploy mode (switch_to_deploy, the int8 GEMM) and packed
checkpoints: the fake-quantized outputs, one graph, every checkpoint
flavour."""
import copy
import re
import sys

import pytest
import torch
from conftest import SOFTMAX_SWIN, TINY_PVT, assert_tensors_equal, run
from mmengine.registry import MODELS

from mmagent.models import binarize_backbone
from mmagent.models.backbones import AgentDeiT, AgentPVT, AgentSwinTransformer
from mmagent.models.layers.binary import BinaryLinear


@pytest.mark.slow
def test_packed_checkpoint_reloads_to_identical_outputs(tmp_path):
    """tools/model_converters/bivit_pack.py: 1 bit per binary weight, >=
    20x smaller than fp32 for the binarized layers, same outputs."""
    def build():
        return MODELS.build(dict(
            type='BiViT', mlp=True,
            backbone=dict(type='AgentSwinTransformer', drop_path_rate=0.,
                          arch=dict(embed_dims=96, depths=[2, 2, 2, 2],
                                    num_heads=[3, 6, 12, 24],
                                    attn_type='BBBB')))).eval()

    model = build()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        model(x)  # the first binary forward sets alpha
        for p in model.parameters():  # trained-looking alphas and biases
            p.add_(torch.randn_like(p) * 1e-3)
        expected = model(x)
    src = tmp_path / 'trained.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 3}},
               src)
    packed, unpacked = tmp_path / 'packed.pth', tmp_path / 'unpacked.pth'
    out = run([sys.executable, 'tools/model_converters/bivit_pack.py',
               'pack', str(src), str(packed)]).stdout
    ratio = float(re.search(r'\(([\d.]+)x smaller\)', out).group(1))
    assert ratio >= 20
    assert packed.stat().st_size < src.stat().st_size / 4
    run([sys.executable, 'tools/model_converters/bivit_pack.py', 'unpack',
         str(packed), str(unpacked)])
    fresh = build()
    fresh.load_state_dict(
        torch.load(unpacked, weights_only=True)['state_dict'])
    with torch.no_grad():
        got = fresh(x)
    assert_tensors_equal(got, expected)


def _trained(model, x):
    """``model`` after its first binary forward (alphas set) with every
    parameter moved a little, as training would; eval mode."""
    model.eval()
    with torch.no_grad():
        model(x)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 1e-2)
    return model


DEPLOY_BUILDS = {
    'swin-shifted-windows': lambda: AgentSwinTransformer(
        arch=SOFTMAX_SWIN, drop_path_rate=0.),
    'pvt-spatial-reduction': lambda: AgentPVT(attn_type='BBBB', **TINY_PVT),
    'deit-global': lambda: AgentDeiT(embed_dims=48, depth=2, num_heads=3,
                                     attn_type='B', drop_path_rate=0.),
    'pvt-agent-experimental': lambda: AgentPVT(**TINY_PVT),
}


@pytest.mark.parametrize('name', sorted(DEPLOY_BUILDS))
def test_deploy_mode_gives_the_fake_quantized_outputs(name, monkeypatch):
    """switch_to_deploy: int8 signs, the binary-input layers through the
    int8 x int8 -> int32 GEMM, every output bit equal to the
    fake-quantized model's (attention and MLP weights binary)."""
    from mmagent.models import switch_to_deploy
    from mmagent.models.layers import binary
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 96)  # not square: padding and shifts
    model = _trained(binarize_backbone(
        DEPLOY_BUILDS[name](), mlp=True, agent=name.endswith('experimental')),
        x)
    with torch.no_grad():
        expected = model(x)
    layers = {n: m for n, m in model.named_modules()
              if isinstance(m, BinaryLinear)}
    deployed = switch_to_deploy(copy.deepcopy(model))
    assert deployed.binarized['deploy']
    assert not any(isinstance(m, BinaryLinear) for m in deployed.modules())
    integer_gemms = []

    def counting(a, b):
        assert a.dtype == b.dtype == torch.int8
        integer_gemms.append(a.shape)
        return torch._int_mm(a, b)

    monkeypatch.setattr(binary, 'integer_matmul', counting)
    with torch.no_grad():
        got = deployed(x)
    assert_tensors_equal(got, expected)
    binary_inputs = [n for n, m in layers.items() if m.binary_input]
    assert binary_inputs and len(integer_gemms) == len(binary_inputs)
    for n, layer in layers.items():
        new = deployed.get_submodule(n)
        assert isinstance(new, binary.DeployedBinaryLinear)
        assert new.weight.dtype == torch.int8
        assert torch.equal(new.weight.float(), layer.weight_signs())


def test_deploy_mode_traces_as_one_graph():
    """The deployed model (int8 GEMM custom op, SAB) compiles without a
    graph break, for the deploy tools of issue 24."""
    from mmagent.models import switch_to_deploy
    torch._dynamo.reset()
    model = switch_to_deploy(binarize_backbone(
        AgentSwinTransformer(arch=SOFTMAX_SWIN, drop_path_rate=0.),
        mlp=True)).eval()
    with torch.no_grad():
        explained = torch._dynamo.explain(model)(torch.randn(1, 3, 64, 64))
    assert explained.graph_break_count == 0, [
        r.reason for r in explained.break_reasons]


def test_deploy_config_loads_training_and_packed_checkpoints(tmp_path):
    """BiViT(deploy=True) takes the fake-quantized model's checkpoints as
    they are: a trained one, its bivit_pack.py pack + unpack, and a
    full-precision one (alpha = mean |W| as the first binary forward sets
    it); a checkpoint from cross-layer binarization's first stage is
    refused; a deployed model's own state dict reloads."""
    from mmagent.utils.bitpack import pack_state_dict, unpack_state_dict

    def build(deploy, mlp=True):
        return MODELS.build(dict(
            type='BiViT', mlp=mlp, deploy=deploy,
            backbone=dict(type='AgentSwinTransformer', arch=SOFTMAX_SWIN,
                          drop_path_rate=0.))).eval()

    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)
    trained = _trained(build(False), x)
    with torch.no_grad():
        expected = trained(x)
    unpacked = unpack_state_dict(pack_state_dict(trained.state_dict()))
    for state_dict in (trained.state_dict(), unpacked):
        deployed = build(True)
        deployed.load_state_dict(state_dict)
        with torch.no_grad():
            assert_tensors_equal(deployed(x), expected)
    again = build(True)
    again.load_state_dict(deployed.state_dict())
    with torch.no_grad():
        assert_tensors_equal(again(x), expected)

    full_precision = AgentSwinTransformer(arch=SOFTMAX_SWIN, drop_path_rate=0.)
    fp_checkpoint = tmp_path / 'fp.pth'
    torch.save({'state_dict': full_precision.state_dict()}, fp_checkpoint)
    fake, deployed = build(False), build(True)
    for model in (fake, deployed):
        model.load_pretrained(str(fp_checkpoint))
    with torch.no_grad():
        assert_tensors_equal(deployed(x), fake(x))

    stage_one = build(False, mlp='deferred').state_dict()
    with pytest.raises(ValueError, match='binary_enabled is False'):
        build(True, mlp='deferred').load_state_dict(stage_one)


@pytest.mark.slow
def test_pack_refuses_a_full_precision_checkpoint(tmp_path):
    src = tmp_path / 'fp.pth'
    torch.save({'state_dict': AgentPVT(**TINY_PVT).state_dict()}, src)
    result = run([sys.executable, 'tools/model_converters/bivit_pack.py',
                  'pack', str(src), str(tmp_path / 'out.pth')], check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'no binary layer in use' in result.stderr
    assert not (tmp_path / 'out.pth').exists()
