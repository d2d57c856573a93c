"""The GPU suite (``make test-gpu``, marker ``cuda``): what only a GPU runs.
Without CUDA every test here is skipped, and reported as skipped.

- every family's forward and backward in fp32, fp16 and bf16 against the
  CPU's float64 reference;
- agent, window and spatial-reduction attention run a fused SDPA kernel in
  training (the bias gradient included), never the math fallback;
- 20 AMP iterations (fp16, GradScaler) of Mask R-CNN and UperNet
  Agent-Swin-T on the demo data, every loss finite;
- torch.compile, BiViT's deploy mode (int8 GEMMs), AgentSD in fp16 and DDP
  over NCCL, each on the GPU.

``MMAGENT_GPU_SUITE_DEVICE=cpu`` runs the tests that can run without a GPU
on the CPU instead: a check of the suite's own code, not of a GPU.
"""
import copy
import math
import os
import os.path as osp
import re
import sys

import pytest
import torch
from conftest import (REPO_ROOT, TINY_FAMILIES, assert_tensors_equal,
                      block_context, require, run)
from precision import RoundProducts, relative_error

pytestmark = pytest.mark.cuda

DEVICE = os.environ.get('MMAGENT_GPU_SUITE_DEVICE', 'cuda')
ON_GPU = DEVICE.startswith('cuda')
gpu_only = pytest.mark.skipif(not ON_GPU,
                              reason='a GPU kernel check (dry run on CPU)')
DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


@pytest.fixture(autouse=True)
def full_fp32():
    """fp32 means fp32: no TF32 in matmuls or convolutions (10-bit
    mantissas would fail the fp32 bound by design)."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved


def projected_loss(outs, seed=0):
    """A fixed random projection of every output (every element weighs
    in)."""
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=gen, dtype=torch.float64)
               for o in outs]
    return sum((o.double() * w.to(o.device)).sum()
               for o, w in zip(outs, weights))


def forward_backward(model, x, dtype=None, emulate=None):
    """Outputs (float64, on the CPU) and parameter gradients."""
    model.zero_grad(set_to_none=True)
    device = x.device.type
    with torch.autocast(device, dtype=dtype or torch.float32,
                        enabled=dtype is not None):
        if emulate is not None:
            with emulate:
                outs = list(model(x))
        else:
            outs = list(model(x))
    projected_loss(outs).backward()
    grads = {n: p.grad.detach().double().cpu()
             for n, p in model.named_parameters() if p.grad is not None}
    return [o.detach().double().cpu() for o in outs], grads


def cosine(a, b):
    a, b = a.flatten(), b.flatten()
    return (a @ b / (a.norm() * b.norm()).clamp_min(1e-30)).item()


# fp32 on the GPU against float64 on the CPU: outputs to 1e-4 of their
# largest value; gradients to 1e-3 (sums of large cancelling terms lose
# 1-2e-4 to fp32 rounding alone, see test_models/test_gradient_parity.py).
# fp16/bf16 under autocast: outputs within 5x the model's own rounding
# error (precision.RoundProducts, as test_engine/test_amp.py), and the
# whole gradient pointing the float64 gradient's way (cosine >= 0.99: a
# step in the same direction; single small gradients, such as a bias
# table's, are sums of many reduced-precision terms and only agree to a
# cosine of ~0.95 in bf16).
@pytest.mark.parametrize('dtype', list(DTYPES))
@pytest.mark.parametrize('family', sorted(TINY_FAMILIES))
def test_family_forward_backward_against_cpu_float64(family, dtype):
    torch.manual_seed(0)
    model = TINY_FAMILIES[family]().train()
    x = torch.randn(2, 3, 224, 224) if 'deit' in family or \
        'cswin' in family else torch.randn(2, 3, 96, 128)
    ref_model = copy.deepcopy(model).double()
    ref_outs, ref_grads = forward_backward(ref_model, x.double())
    model = model.to(DEVICE)
    low = DTYPES[dtype] if dtype != 'fp32' else None
    outs, grads = forward_backward(model, x.to(DEVICE), low)
    assert len(outs) == len(ref_outs) > 0 and grads.keys() == ref_grads.keys()
    if low is None:
        for out, ref in zip(outs, ref_outs):
            assert relative_error(out, ref) <= 1e-4
        for name, ref in ref_grads.items():
            assert relative_error(grads[name], ref) <= 1e-3, name
        return
    emulated, _ = forward_backward(copy.deepcopy(ref_model).float(), x,
                                   emulate=RoundProducts(low))
    for out, ref, emu in zip(outs, ref_outs, emulated):
        assert torch.isfinite(out).all()
        expected = relative_error(emu, ref)
        assert math.isfinite(expected)  # the emulation itself overflowed
        assert relative_error(out, ref) <= 5 * expected
    assert all(torch.isfinite(g).all() for g in grads.values())
    names = sorted(ref_grads)
    assert cosine(torch.cat([grads[n].flatten() for n in names]),
                  torch.cat([ref_grads[n].flatten() for n in names])) >= 0.99


FUSED = ('_scaled_dot_product_efficient_attention',
         '_scaled_dot_product_flash_attention',
         '_scaled_dot_product_cudnn_attention')
MATH = '_scaled_dot_product_attention_math'


@gpu_only
@pytest.mark.parametrize('dtype', ['fp32', 'fp16'])
@pytest.mark.parametrize('kind,context', [
    ('agent', dict(agent_num=16, agent_shape=(4, 4))),
    ('window', dict(window_size=7, shift_size=3)),
    ('spatial_reduction', dict(sr_ratio=2, fused_qkv=False)),
])
def test_attention_runs_a_fused_sdpa_kernel_in_training(kind, context,
                                                        dtype):
    from torch.profiler import ProfilerActivity, profile

    from mmagent.models.layers.attention import build_attention
    attn = build_attention(kind, block_context(
        embed_dims=64, num_heads=2, pretrain_hw=(14, 14), **context))
    attn = attn.to(DEVICE).train()
    x = torch.randn(2, 14 * 14, 64, device=DEVICE, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU,
                             ProfilerActivity.CUDA]) as prof:
        with torch.autocast('cuda', dtype=DTYPES[dtype],
                            enabled=dtype != 'fp32'):
            out = attn(x, (14, 14))
        out.float().square().mean().backward()
        torch.cuda.synchronize()
    ops = {e.name for e in prof.events()}
    assert any(f'aten::{name}' in ops for name in FUSED), sorted(
        op for op in ops if 'attention' in op)
    assert f'aten::{MATH}' not in ops
    biases = [p for n, p in attn.named_parameters() if 'bias' in n and
              p.ndim > 1]
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in biases)


def loss_values(output):
    """Every logged ``loss: <value>`` of a training log."""
    return [float(v) for v in re.findall(r'\bloss: ([-+\w.]+)', output)]


def demo_config(tmp_path, base, model_source, adjust, tiny_data):
    """A demo config (``base``: the embedded demo's data and schedule) with
    the whole model of ``model_source`` (a full config)."""
    from mmengine.config import Config
    model = Config.fromfile(osp.join(REPO_ROOT, model_source)).model
    model.backbone.init_cfg = None  # no ImageNet checkpoint here
    adjust(model)
    path = tmp_path / 'config.py'
    path.write_text(
        f'_base_ = {osp.join(REPO_ROOT, base)!r}\n'
        f'model = {model.to_dict()!r}\n'
        f"model['_delete_'] = True\n"
        f'data_root = {tiny_data!r}\n')
    return str(path)


def amp_train(config, tmp_path, options):
    result = run([sys.executable, 'tools/train.py', config, '--amp',
                  '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                  'default_hooks.logger.interval=1',
                  'train_dataloader.num_workers=2', *options], timeout=900)
    out = result.stdout + result.stderr
    losses = loss_values(out)
    return out, losses


@gpu_only  # CPU autocast is bf16, which mmcv's CPU nms does not take
def test_amp_mask_rcnn_agent_swin_t_20_iterations(tiny_coco, tmp_path):
    """Mask R-CNN Agent-Swin-T (the 1x config's whole model), fp16 with
    dynamic loss scaling, 20 iterations on the detection demo data."""

    def adjust(model):
        model.roi_head.bbox_head.num_classes = 4
        model.roi_head.mask_head.num_classes = 4

    config = demo_config(
        tmp_path, 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py',
        'configs/det/mask-rcnn_agent-swin-t_fpn_1x_coco.py', adjust,
        tiny_coco)
    root = tiny_coco
    out, losses = amp_train(config, tmp_path, [
        'train_cfg.max_epochs=10', 'train_cfg.val_begin=11',
        'train_dataloader.batch_size=4',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val.json',
        f'test_evaluator.ann_file={root}annotations/instances_val.json'])
    assert "type='AmpOptimWrapper'" in out and "loss_scale='dynamic'" in out
    assert len(losses) >= 20 and all(map(math.isfinite, losses)), losses


def test_amp_upernet_agent_swin_t_20_iterations(tiny_ade, tmp_path):
    """UperNet Agent-Swin-T (the 160k config's whole model), fp16 with
    dynamic loss scaling, 20 iterations on the segmentation demo data."""

    def adjust(model):
        model.decode_head.num_classes = 13
        model.auxiliary_head.num_classes = 13
        model.data_preprocessor.size = (128, 128)

    config = demo_config(
        tmp_path, 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py',
        'configs/seg/upernet_agent-swin-t_160k_ade20k-512x512.py', adjust,
        tiny_ade)
    out, losses = amp_train(config, tmp_path, [
        'train_cfg.max_iters=20', 'train_cfg.val_interval=20',
        'train_cfg.val_begin=21', 'train_dataloader.batch_size=2',
        f'train_dataloader.dataset.data_root={tiny_ade}',
        f'val_dataloader.dataset.data_root={tiny_ade}',
        f'test_dataloader.dataset.data_root={tiny_ade}'])
    amp = "type='AmpOptimWrapper'" if ON_GPU else "type='CPUAmpOptimWrapper'"
    assert amp in out
    assert len(losses) == 20 and all(map(math.isfinite, losses)), losses


@pytest.mark.parametrize('family', ['agent-swin', 'flatten-pvt'])
def test_compile_matches_eager(family):
    """inductor-compiled forward and backward give eager's outputs and
    gradients (fp32)."""
    torch.manual_seed(0)
    model = TINY_FAMILIES[family]().to(DEVICE).train()
    x = torch.randn(2, 3, 96, 128, device=DEVICE)
    eager_outs, eager_grads = forward_backward(model, x)
    compiled = torch.compile(model)
    outs, grads = forward_backward(compiled, x)
    for out, ref in zip(outs, eager_outs):
        assert relative_error(out, ref) <= 1e-4
    for name, ref in eager_grads.items():
        key = name if name in grads else f'_orig_mod.{name}'
        assert relative_error(grads[key], ref) <= 1e-3, name


def test_bivit_deploy_mode_on_the_gpu():
    """The deployed model's int8 GEMMs on the GPU give the fake-quantized
    model's outputs bit for bit (both compute exact integers)."""
    from mmagent import AgentSwinTransformer
    from mmagent.models import binarize_backbone, switch_to_deploy
    torch.manual_seed(0)
    model = binarize_backbone(AgentSwinTransformer(
        embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
        attn_type='BBBB', drop_path_rate=0.), mlp=True).eval().to(DEVICE)
    x = torch.randn(2, 3, 224, 224, device=DEVICE)
    with torch.no_grad():
        expected = model(x)
        deployed = switch_to_deploy(copy.deepcopy(model))
        got = deployed(x)
    assert_tensors_equal(got, expected)


def test_agentsd_tiny_unet_fp16():
    """AgentSD on a tiny random UNet in fp16: finite, in fp16, and other
    than the UNet's own attention (the agents ran)."""
    require('diffusers', "AgentSD needs the 'diffusion' extra")
    from mmagent.diffusion import apply_agent_attention
    from mmagent.diffusion.random_models import TINY_SD_UNET, random_unet
    unet = random_unet(TINY_SD_UNET, dtype=torch.float16).to(DEVICE)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 32, 32, generator=gen).half().to(DEVICE)
    context = torch.randn(2, 7, 32, generator=gen).half().to(DEVICE)
    with torch.no_grad():
        plain = unet(x, torch.tensor(500), context).sample
        apply_agent_attention(unet)
        agent = unet(x, torch.tensor(500), context).sample
    assert agent.dtype == torch.float16
    assert torch.isfinite(agent).all() and torch.isfinite(plain).all()
    assert not torch.equal(agent, plain)  # the agents really ran


@gpu_only
def test_ddp_over_nccl_one_process(tmp_path):
    """One NCCL process: DDP's training step gives the plain module's
    gradients (to CUDA's run-to-run differences)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    torch.manual_seed(0)
    model = TINY_FAMILIES['agent-pvt']().to(DEVICE).train()
    x = torch.randn(2, 3, 96, 128, device=DEVICE)
    _, expected = forward_backward(model, x)
    dist.init_process_group('nccl', init_method=f'file://{tmp_path}/rdzv',
                            rank=0, world_size=1)
    try:
        index = torch.device(DEVICE).index or 0
        wrapped = DistributedDataParallel(model, device_ids=[index])
        _, grads = forward_backward(wrapped, x)
    finally:
        dist.destroy_process_group()
    # two backward passes: atomics in some CUDA backward kernels (the
    # attention bias's gradient) may add in another order
    for name, ref in expected.items():
        assert relative_error(grads[f'module.{name}'], ref) <= 1e-5, name
