"""BiViT binarization: the quantizers against their definitions (SAB, the
clipped sign STE, PWS), and the config-driven transform of the backbones'
softmax attention (Swin windows with bias and shift mask, PVT spatial
reduction, DeiT), which full-precision checkpoints initialise."""
import copy
import os.path as osp
import re
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO_ROOT, TINY_PVT, block_context, run
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.runner import Runner

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
from mmagent.models.layers.binary import (BinaryLinear, binary_sign,
                                          softmax_aware_binarize)

SWIN = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
            attn_type='BBBB')


def test_sab_forward_is_thresholded_softmax():
    logits = torch.randn(3, 4, 49, 49) * 3
    probs = logits.softmax(-1)
    expected = (probs >= 0.25 * probs.amax(-1, keepdim=True)).float()
    out = softmax_aware_binarize(logits)
    assert torch.equal(out, expected)
    assert set(out.unique().tolist()) <= {0., 1.}
    assert (out.sum(-1) >= 1).all()  # the row maximum always survives
    # beta moves the threshold
    assert softmax_aware_binarize(logits, 0.5).sum() < out.sum()


def test_sab_gradient_is_the_softmax_gradient():
    logits = torch.randn(2, 3, 16, 16, dtype=torch.float64,
                         requires_grad=True)
    upstream = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    grad, = torch.autograd.grad((softmax_aware_binarize(logits) *
                                 upstream).sum(), logits)
    expected, = torch.autograd.grad((logits.softmax(-1) * upstream).sum(),
                                    logits)
    assert torch.allclose(grad, expected, atol=1e-12)


def test_sab_reduced_precision():
    logits = torch.randn(2, 8, 8).half() * 100
    out = softmax_aware_binarize(logits)
    assert out.dtype == torch.float16
    probs = logits.float().softmax(-1)
    assert torch.equal(
        out.float(), (probs >= 0.25 * probs.amax(-1, keepdim=True)).float())


def test_sign_ste():
    x = torch.tensor([-2., -1., -0.5, 0., 0.3, 1., 3.], requires_grad=True)
    out = binary_sign(x)
    assert out.tolist() == [-1., -1., -1., 1., 1., 1., 1.]
    out.sum().backward()
    assert x.grad.tolist() == [0., 0., 1., 1., 1., 0., 0.]


def test_pws_binary_linear():
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 5)
    with torch.no_grad():
        linear.weight.mul_(10)  # some |W - mean| >= 1: clipped gradients
    layer = BinaryLinear.from_float(linear)
    assert layer.weight is linear.weight and layer.bias is linear.bias
    assert not layer.alpha_initialized
    x = torch.randn(4, 8)
    out = layer(x)
    # alpha = mean |W| per output channel, set at the first forward
    assert layer.alpha_initialized
    assert torch.allclose(layer.alpha,
                          linear.weight.abs().mean(1, keepdim=True))
    centred = linear.weight - linear.weight.mean(1, keepdim=True)
    binary_w = layer.alpha * torch.where(centred >= 0, 1., -1.)
    x_b = torch.where(x >= 0, 1., -1.)
    assert torch.allclose(out, F.linear(x_b, binary_w, linear.bias))
    # STE: through sign (clipped at |W - mean| < 1) and the centring
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    g_wb = upstream.t() @ x_b  # dL / dW_b
    g_c = layer.alpha.detach() * g_wb * (centred.abs() < 1)
    expected = g_c - g_c.mean(1, keepdim=True)
    assert torch.allclose(linear.weight.grad, expected, atol=1e-5)
    sign_c = torch.where(centred >= 0, 1., -1.)
    assert torch.allclose(layer.alpha.grad,
                          (g_wb * sign_c).sum(1, keepdim=True), atol=1e-5)
    # built where and as the float layer is
    half = BinaryLinear.from_float(torch.nn.Linear(8, 5).half())
    assert half.alpha.dtype == torch.float16
    # trained alphas survive a reload: no re-initialisation
    with torch.no_grad():
        layer.alpha.fill_(0.5)
    reloaded = BinaryLinear(8, 5)
    reloaded.load_state_dict(layer.state_dict())
    reloaded(x)
    assert torch.all(reloaded.alpha == 0.5)


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
    (lambda: AgentSwinTransformer(arch=SWIN, drop_path_rate=0.),
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
    assert all(torch.equal(model.state_dict()[k], v)
               for k, v in fp_model.state_dict().items())
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


class ToyClassifier(BaseModel):
    """A binarized tiny Agent-PVT (softmax blocks) and a linear head."""

    def __init__(self, mlp='deferred'):
        super().__init__()
        self.backbone = MODELS.build(dict(
            type='BiViT', mlp=mlp,
            backbone=dict(type='AgentPVT', attn_type='BBBB', **TINY_PVT)))
        self.head = torch.nn.Linear(64, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.head(self.backbone(inputs)[-1].mean((2, 3)))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return logits


class RecordStage(Hook):
    priority = 'LOW'  # after the CLB hook

    def __init__(self):
        self.stages = {}

    def before_train_epoch(self, runner):
        fc1 = runner.model.backbone.block1[0].mlp.fc1
        self.stages[runner.epoch + 1] = bool(fc1.binary_enabled)


def toy_runner(work_dir, model, train_cfg, switch_epoch, data, **kwargs):
    """An mmengine Runner training ``model`` with the CLB hook."""
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        custom_hooks=[dict(type='CrossLayerBinarizationHook',
                           switch_epoch=switch_epoch),
                      *kwargs.pop('hooks', [])],
        default_scope='mmengine', **kwargs)


def clb_runner(work_dir, max_epochs, resume=False):
    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(3, 64, 64), labels=i % 2)
            for i in range(4)]
    record = RecordStage()
    runner = toy_runner(
        work_dir, ToyClassifier(), dict(by_epoch=True, max_epochs=max_epochs),
        2, data, hooks=[record],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        resume=resume)
    return runner, record


def test_clb_switches_at_the_configured_epoch_and_survives_resume(
        tmp_path):
    runner, record = clb_runner(tmp_path, 3)
    fc1 = runner.model.backbone.block1[0].mlp.fc1
    qkv_alpha = runner.model.backbone.block1[0].attn.q.alpha
    runner.train()
    # stage 1 for epochs 1-2, stage 2 from epoch 3
    assert record.stages == {1: False, 2: False, 3: True}
    assert fc1.alpha_initialized and bool(fc1.binary_enabled)
    # alpha was initialised from the weights stage 1 trained, then trained
    stage1 = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    key = 'backbone.block1.0.mlp.fc1'
    assert not stage1['state_dict'][f'{key}.binary_enabled']
    assert not stage1['state_dict'][f'{key}.alpha_initialized']
    assert stage1['state_dict'][f'{key}.alpha'].abs().sum() == 0
    assert qkv_alpha.abs().sum() > 0  # the attention was binary from 1
    final = torch.load(tmp_path / 'epoch_3.pth', weights_only=False)
    assert final['state_dict'][f'{key}.binary_enabled']

    # --resume from the last stage-1 checkpoint: stage 2 again at epoch 3
    resumed_dir = tmp_path / 'resumed'
    resumed_dir.mkdir()
    (resumed_dir / 'epoch_2.pth').write_bytes(
        (tmp_path / 'epoch_2.pth').read_bytes())
    (resumed_dir / 'last_checkpoint').write_text(
        str(resumed_dir / 'epoch_2.pth'))
    runner, record = clb_runner(resumed_dir, 3, resume=True)
    runner.train()
    assert record.stages == {3: True}
    again = torch.load(resumed_dir / 'epoch_3.pth', weights_only=False)
    assert torch.allclose(again['state_dict'][f'{key}.alpha'],
                          final['state_dict'][f'{key}.alpha'])

    # a stage-2 checkpoint loads into a freshly built model in stage 2
    model = ToyClassifier()
    model.load_state_dict(final['state_dict'])
    fc1 = model.backbone.block1[0].mlp.fc1
    assert bool(fc1.binary_enabled) and fc1._enabled and fc1._alpha_ready


ONE_IMAGE = [dict(inputs=torch.randn(3, 64, 64), labels=0)] * 2


def test_clb_needs_an_epoch_based_loop(tmp_path):
    runner = toy_runner(tmp_path, ToyClassifier(),
                        dict(by_epoch=False, max_iters=1), 1, ONE_IMAGE)
    with pytest.raises(ValueError, match='epoch-based'):
        runner.train()


def test_clb_needs_deferred_mlps(tmp_path):
    runner = toy_runner(tmp_path, ToyClassifier(mlp=False),
                        dict(by_epoch=True, max_epochs=1), 1, ONE_IMAGE)
    with pytest.raises(ValueError, match="mlp='deferred'"):
        runner.train()


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
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


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
        arch=SWIN, drop_path_rate=0.),
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
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
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
        AgentSwinTransformer(arch=SWIN, drop_path_rate=0.), mlp=True)).eval()
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
            backbone=dict(type='AgentSwinTransformer', arch=SWIN,
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
            assert all(torch.equal(a, b)
                       for a, b in zip(deployed(x), expected))
    again = build(True)
    again.load_state_dict(deployed.state_dict())
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(again(x), expected))

    full_precision = AgentSwinTransformer(arch=SWIN, drop_path_rate=0.)
    fp_checkpoint = tmp_path / 'fp.pth'
    torch.save({'state_dict': full_precision.state_dict()}, fp_checkpoint)
    fake, deployed = build(False), build(True)
    for model in (fake, deployed):
        model.load_pretrained(str(fp_checkpoint))
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(deployed(x), fake(x)))

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


def classifier_cfg(backbone):
    return dict(
        type='ImageClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64,
                  loss=dict(type='CrossEntropyLoss')))


def test_distillation_from_a_frozen_teacher(tmp_path):
    import mmagent.models.classifiers.distill  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    fp_backbone = dict(type='AgentPVT', attn_type='BBBB', **TINY_PVT)
    teacher = MODELS.build(classifier_cfg(fp_backbone))
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    student = MODELS.build(dict(
        classifier_cfg(dict(type='BiViT', backbone=fp_backbone)),
        type='DistilledImageClassifier', teacher=classifier_cfg(fp_backbone),
        teacher_checkpoint=str(ckpt)))
    student.init_weights()  # as the runner does before training
    # the teacher is the checkpoint's, frozen, and not part of the student
    assert all(torch.equal(a, b) for a, b in zip(
        student.teacher.state_dict().values(),
        teacher.state_dict().values()))
    assert not any(k.startswith('teacher') for k in student.state_dict())
    student.train()
    assert not student.teacher.training
    x = torch.randn(2, 3, 64, 64)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    losses = student.loss(x, samples)
    assert set(losses) == {'loss_distill'}
    with torch.no_grad():
        t = teacher(x, mode='tensor')
    s = student(x, mode='tensor')
    expected = (t.softmax(-1) * (t.log_softmax(-1) - s.log_softmax(-1))
                ).sum(-1).mean()
    assert torch.allclose(losses['loss_distill'], expected, atol=1e-6)
    losses['loss_distill'].backward()
    assert student.head.fc.weight.grad is not None
    assert all(p.grad is None for p in student.teacher.parameters())
    # with the labels too
    student.label_weight = 0.5
    assert 'loss' in student.loss(x, samples)
    with pytest.raises(ValueError, match='randomly initialised teacher'):
        MODELS.build(dict(
            classifier_cfg(fp_backbone), type='DistilledImageClassifier',
            teacher=classifier_cfg(fp_backbone))).init_weights()
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(1)}}, bad)
    with pytest.raises(Exception, match='size mismatch|Missing key'):
        MODELS.build(dict(
            classifier_cfg(fp_backbone), type='DistilledImageClassifier',
            teacher=classifier_cfg(fp_backbone),
            teacher_checkpoint=str(bad))).init_weights()


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


CLS_CONFIGS = {
    # name -> (inner backbone type, attn_type, agent, head channels)
    'bivit-swin-t_in1k': ('AgentSwinTransformer', 'BBBB', False, 768),
    'bivit-swin-s_in1k': ('AgentSwinTransformer', 'BBBB', False, 768),
    'bivit-agent-swin-t_in1k': ('AgentSwinTransformer', 't', True, 768),
    'bivit-agent-pvt-t_in1k': ('AgentPVT', 't', True, 512),
}


@pytest.mark.parametrize('name', sorted(CLS_CONFIGS))
def test_imagenet_configs(name):
    """The paper's recipe: distillation alone from the full-precision
    classifier (also the starting point), Adam 5e-4 without weight decay,
    5 warm-up epochs then cosine, 300 epochs with the CLB switch at 150."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/cls', f'{name}.py'))
    kind, arch, agent, channels = CLS_CONFIGS[name]
    model = cfg.model
    assert model.type == 'DistilledImageClassifier'
    assert model.distill_weight == 1 and model.label_weight == 0
    assert model.backbone.type == 'BiViT' and model.backbone.attn
    assert model.backbone.mlp == 'deferred'
    assert model.backbone.get('agent', False) == agent
    inner = model.backbone.backbone
    assert inner.type == kind == model.teacher.backbone.type
    assert inner.arch == model.teacher.backbone.arch
    assert (inner.arch if isinstance(inner.arch, str) else
            inner.arch.attn_type) == arch
    assert model.teacher_checkpoint == cfg.load_from
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=5e-4,
                                               weight_decay=0.)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 5)
    assert (cosine.type, cosine.begin, cosine.end) == (
        'CosineAnnealingLR', 5, 300)
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.custom_hooks == [dict(type='CrossLayerBinarizationHook',
                                     switch_epoch=150)]
    assert cfg.find_unused_parameters  # the MLP alphas wait for stage 2
    init_default_scope('mmpretrain')
    model.teacher_checkpoint = None
    built = MODELS.build(model)
    assert built.head.fc.in_features == channels
    assert built.backbone.binarized['attention_modules'] > 0


@pytest.mark.parametrize('name', ['mask-rcnn_bivit-swin-t_fpn_1x_coco',
                                  'cascade-mask-rcnn_bivit-swin-t_fpn_1x_coco'])
def test_coco_configs(name):
    """Swin-T with only the backbone's attention binarized, on the Agent
    Swin-T detector's 1x recipe, from the full-precision ImageNet weights;
    Swin-T's detector parameter count (+ the alphas)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/det', f'{name}.py'))
    agent = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/det', name.replace('bivit', 'agent') + '.py'))
    # the alphas are not decayed; the rest is the Agent-Swin-T recipe
    custom_keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom_keys.pop('alpha') == dict(decay_mult=0.)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader'):
        assert cfg[key] == agent[key], key
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.attn, backbone.mlp) == ('BiViT', True,
                                                            False)
    assert backbone.backbone.arch.attn_type == 'BBBB'
    assert backbone.backbone.init_cfg.checkpoint.endswith(
        'swin_tiny_patch4_window7_224.pth')
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as DET_MODELS
    backbone.backbone.init_cfg = None
    model = DET_MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    expected = 47.8 if name.startswith('mask') else 85.6  # Swin-T's
    assert abs(params - expected) < 0.1, params


def test_model_index_entries():
    import yaml
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    names = set()
    for task in ('cls', 'det'):
        path = f'configs/{task}/bivit_metafile.yml'
        assert path in imports
        with open(osp.join(REPO_ROOT, path)) as f:
            for model in yaml.safe_load(f)['Models']:
                names.add(model['Name'])
                assert 'Weights' not in model  # none were released
                if 'Results' in model:
                    assert 'not an mmagent run' in model['Results Source']
                else:
                    assert 'experimental' in model['Metadata']['Status']
    assert names == set(CLS_CONFIGS) | {
        'mask-rcnn_bivit-swin-t_fpn_1x_coco',
        'cascade-mask-rcnn_bivit-swin-t_fpn_1x_coco'}


def test_bit_packing_of_odd_widths_and_constant_rows():
    """Widths that are no multiple of 8 (padded bits in the last byte) and
    rows whose centred weights are all zero (signs +1) pack and unpack to
    a layer with identical outputs."""
    from mmagent.utils.bitpack import (pack_state_dict, unpack_state_dict,
                                       weight_signs)
    torch.manual_seed(0)
    layer = BinaryLinear(13, 6)
    with torch.no_grad():
        layer.weight[2] = 0.7  # constant row: centred to zeros
        layer.weight[4] = 0.
    x = torch.randn(5, 13)
    expected = layer(x)
    model = torch.nn.Sequential(layer)
    packed = pack_state_dict(model.state_dict())
    assert packed['binary_weights']['0']['bits'].shape == (6, 2)  # 13 bits
    state_dict = unpack_state_dict(packed)
    assert torch.equal(state_dict['0.weight'], weight_signs(layer.weight))
    assert (state_dict['0.weight'][[2, 4]] == 1).all()
    reloaded = torch.nn.Sequential(BinaryLinear(13, 6))
    reloaded.load_state_dict(state_dict)
    assert torch.equal(reloaded(x), expected)
