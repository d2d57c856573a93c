"""AgentSD on diffusers: small random-weight UNets, no downloads."""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import require

require('diffusers', "AgentSD needs the 'diffusion' extra (diffusers)")

from mmagent.diffusion import (AgentSDProcessor, AgentSDSchedule,  # noqa
                               AgentSDState, BipartiteMatching,
                               agent_attention, agent_attention_state,
                               apply_agent_attention, remove_agent_attention)
from mmagent.diffusion.random_models import (TINY_SD_UNET,  # noqa
                                             TINY_SDXL_UNET,
                                             random_sd_pipeline, random_unet)

ROOT = __file__.rsplit('/tests/', 1)[0]


@pytest.fixture(scope='module')
def unet():
    return random_unet(TINY_SD_UNET)


def unet_inputs(batch=2, size=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4, size, size, generator=g), torch.tensor(500),
            torch.randn(batch, 7, 32, generator=g))


def run(model, inputs, **kwargs):
    with torch.no_grad():
        return model(*inputs, **kwargs).sample


def first_self_attention(model):
    from diffusers.models.attention import BasicTransformerBlock
    return next(m for m in model.modules()
                if isinstance(m, BasicTransformerBlock)).attn1


# --- token merging ---------------------------------------------------------


def reference_merge(metric, x, h, w, sx, sy, r):
    """ToMe's bipartite soft matching written as loops (top-left
    destinations). Returns the merged tokens of each image and, for each
    original token, the index of the merged token it went into."""
    dst = [i * w + j for i in range(0, h // sy * sy, sy)
           for j in range(0, w // sx * sx, sx)]
    src = [n for n in range(h * w) if n not in set(dst)]
    r = min(r, len(src))
    merged, where = [], []
    for b in range(x.shape[0]):
        unit = F.normalize(metric[b].double(), dim=-1)
        best, target = (unit[src] @ unit[dst].T).max(-1)
        order = best.argsort(descending=True).tolist()
        groups = [[dst[j]] for j in range(len(dst))]
        for i in order[:r]:
            groups[target[i]].append(src[i])
        kept = [src[i] for i in order[r:]]
        index = {}
        for n, token in enumerate(kept):
            index[token] = n
        for j, group in enumerate(groups):
            for token in group:
                index[token] = len(kept) + j
        merged.append(torch.stack([x[b, t] for t in kept] +
                                  [x[b, g].mean(0) for g in groups]))
        where.append([index[n] for n in range(h * w)])
    return torch.stack(merged), torch.tensor(where)


def test_merging_matches_its_definition_and_tomesd():
    g = torch.Generator().manual_seed(0)
    metric = torch.randn(2, 90, 8, generator=g)
    x = torch.randn(2, 90, 5, generator=g)
    # 9x10 grid, 4x4 cells: leftover rows and columns stay sources.
    match = BipartiteMatching(metric, 9, 10, 4, 4, r=30, agent_r=60)
    ref, where = reference_merge(metric, x, 9, 10, 4, 4, 30)
    feats = match.merge(x)
    assert feats.shape == (2, 60, 5)
    # Same sets of merged tokens, whatever their order.
    for b in range(2):
        ours = sorted(map(tuple, feats[b].tolist()))
        theirs = sorted(map(tuple, ref[b].tolist()))
        torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs))
    # Unmerging gives each token its group's value.
    y = match.unmerge(feats)
    expected = torch.stack([ref[b][where[b]] for b in range(2)])
    torch.testing.assert_close(y, expected)
    # The agents: the same ranking, more merged (capped at the sources).
    agents_ref, _ = reference_merge(metric, x, 9, 10, 4, 4, 60)
    agents = match.agents(x)
    assert agents.shape == (2, 90 - min(60, 90 - 4), 5)
    torch.testing.assert_close(agents.sort(1).values, agents_ref.float().sort(
        1).values)
    tomesd_merge = require('tomesd.merge', 'the ToMe reference needs tomesd '
                           '(requirements/tests.txt)')
    m, u = tomesd_merge.bipartite_soft_matching_random2d(
        metric, 10, 9, 4, 4, 30, no_rand=True)
    torch.testing.assert_close(u(m(x)), y)


def test_random_destinations_one_per_cell():
    from mmagent.diffusion import destination_mask
    mask = destination_mask(8, 12, 4, 2, torch.Generator().manual_seed(3))
    cells = mask.view(4, 2, 3, 4).sum((1, 3))
    assert cells.eq(1).all() and mask.sum() == 12


# --- (b) the processor against a transcription of the formulas ------------


def transcribed_agentsd(attn, x, metric, h, w, sx, sy, r, agent_r,
                        k_scale2, k_shortcut):
    heads = attn.heads
    feats, where = reference_merge(metric, x, h, w, sx, sy, r)
    agents, _ = reference_merge(metric, x, h, w, sx, sy, agent_r)
    feats, agents = feats.float(), agents.float()
    wq, wk, wv = attn.to_q.weight, attn.to_k.weight, attn.to_v.weight
    q, k, v, a = feats @ wq.T, feats @ wk.T, feats @ wv.T, agents @ wq.T

    def split(t):
        return t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)

    q, k, v, a = map(split, (q, k, v, a))
    s = q.shape[-1]**-0.5
    agent_v = torch.softmax(a @ k.transpose(-1, -2) * s, -1) @ v
    out = torch.softmax(q @ a.transpose(-1, -2) * s**k_scale2, -1) @ agent_v
    out = out + k_shortcut * v
    out = out.transpose(1, 2).flatten(2)
    out = out @ attn.to_out[0].weight.T + attn.to_out[0].bias
    return torch.stack([out[b][where[b]] for b in range(out.shape[0])])


@pytest.mark.parametrize('k_scale2,k_shortcut', [(0.3, 0.075), (1.0, 0.5)])
def test_processor_equals_transcription(unet, k_scale2, k_shortcut):
    attn = first_self_attention(unet)
    state = AgentSDState(use_rand=False, k_scale2=k_scale2,
                         k_shortcut=k_shortcut)
    state.latent_size = (16, 16)
    processor = AgentSDProcessor(attn.processor, state)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 256, 32, generator=g)
    processor.metric = metric = torch.randn(2, 256, 32, generator=g)
    with torch.no_grad():
        out = processor(attn, x)
        ref = transcribed_agentsd(attn, x, metric, 16, 16, 4, 4,
                                  int(256 * 0.4), int(256 * 0.95), k_scale2,
                                  k_shortcut)
    assert processor.metric is None  # not kept past the call
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_block_input_is_the_merge_metric(unet, monkeypatch):
    from diffusers.models.attention import BasicTransformerBlock
    inputs, seen = {}, []
    original = AgentSDProcessor.matching

    def spy(self, hidden_states, metric):
        match = original(self, hidden_states, metric)
        seen.append((hidden_states.shape[1], metric is inputs.pop(self),
                     match is not None))
        return match

    monkeypatch.setattr(AgentSDProcessor, 'matching', spy)
    apply_agent_attention(unet)
    blocks = [m for m in unet.modules()
              if isinstance(m, BasicTransformerBlock)]
    hooks = [block.register_forward_pre_hook(
        lambda m, a: inputs.__setitem__(m.attn1.processor, a[0]))
        for block in blocks]
    try:
        run(unet, unet_inputs())
    finally:
        for hook in hooks:
            hook.remove()
        remove_agent_attention(unet)
    # Every self-attention got its own block's input (not the normalised
    # tokens it attends over); only the full-resolution ones (256 tokens)
    # merge with max_downsample=1: one down block layer, the mid block at
    # 8x8, two up block layers.
    assert seen == [(256, True, True), (64, True, False), (256, True, True),
                    (256, True, True)]


def test_random_destinations_only_in_even_batches(unet):
    attn = first_self_attention(unet)
    state = AgentSDState(use_rand=True, seed=5)
    state.latent_size = (16, 16)
    processor = AgentSDProcessor(attn.processor, state)
    top_left = BipartiteMatching(torch.randn(1, 256, 4), 16, 16, 4, 4,
                                 0).dst_idx
    odd = processor.matching(torch.randn(1, 256, 32), None)
    even = processor.matching(torch.randn(2, 256, 32), None)
    assert torch.equal(odd.dst_idx, top_left)
    assert not torch.equal(even.dst_idx, top_left)


# --- (a) disabled = original, (e) remove restores ---------------------------


def test_disabled_equals_original_exactly_and_remove_restores(unet):
    inputs = unet_inputs()
    ref = run(unet, inputs)
    before = dict(unet.attn_processors)
    state = apply_agent_attention(unet, ratio=0.0, agent_ratio=0.0)
    assert torch.equal(run(unet, inputs), ref)
    state.update(ratio=0.4, agent_ratio=0.95)
    patched = run(unet, inputs)
    assert (patched - ref).abs().max() > 1e-3  # it does act when enabled
    # Applying again replaces the patch rather than stacking it.
    apply_agent_attention(unet, ratio=0.3)
    remove_agent_attention(unet)
    assert torch.equal(run(unet, inputs), ref)
    after = unet.attn_processors
    assert all(after[name] is proc for name, proc in before.items())
    assert agent_attention_state(unet) is None
    assert not unet._forward_pre_hooks
    assert not any(m._forward_pre_hooks for m in unet.modules())
    remove_agent_attention(unet)  # no-op on an unpatched UNet


def test_pipeline_is_patched_through_its_unet():
    pipe = random_sd_pipeline()
    apply_agent_attention(pipe)
    assert agent_attention_state(pipe) is agent_attention_state(pipe.unet)
    remove_agent_attention(pipe)
    assert agent_attention_state(pipe.unet) is None


# --- (c) the fallback rule --------------------------------------------------


def test_agents_only_when_fewer_than_half_the_features():
    metric = torch.randn(1, 64, 4)
    # 8x8 grid, 2x2 cells: 48 sources. r=0 keeps 64 features.
    assert not BipartiteMatching(metric, 8, 8, 2, 2, 0, 32).has_agents
    assert BipartiteMatching(metric, 8, 8, 2, 2, 0, 33).has_agents
    # The recommended second phase (sx=sy=2, ratio .4, agent_ratio .5).
    late = BipartiteMatching(metric, 8, 8, 2, 2, int(64 * .4), int(64 * .5))
    assert (late.num_features, late.num_agents) == (39, 32)
    assert not late.has_agents


def test_fallback_runs_softmax_on_merged_tokens(unet, monkeypatch):
    attn = first_self_attention(unet)
    state = AgentSDState(sx=2, sy=2, ratio=0.4, agent_ratio=0.5,
                         use_rand=False)
    state.latent_size = (16, 16)
    processor = AgentSDProcessor(attn.processor, state)

    def no_agents(*args):
        raise AssertionError('agents used above the fallback threshold')

    monkeypatch.setattr(processor, 'attend_with_agents', no_agents)
    x = torch.randn(2, 256, 32)
    with torch.no_grad():
        out = processor(attn, x)
        match = BipartiteMatching(x, 16, 16, 2, 2, 102, 128)
        expected = match.unmerge(attn.processor(attn, match.merge(x)))
        assert torch.equal(out, expected)
        # Coarser blocks than max_downsample keep the original attention,
        # and so does a grid too small for one cell (a 1x1 latent here).
        coarse = torch.randn(2, 64, 32)
        assert torch.equal(processor(attn, coarse),
                           attn.processor(attn, coarse))
        state.latent_size = (1, 1)
        assert torch.equal(processor(attn, x[:, :1]),
                           attn.processor(attn, x[:, :1]))
    with pytest.raises(ValueError, match='no whole'):
        BipartiteMatching(torch.randn(1, 3, 4), 1, 3, 2, 2, 1)


def test_attention_mask_is_refused(unet):
    attn = first_self_attention(unet)
    state = AgentSDState()
    state.latent_size = (16, 16)
    processor = AgentSDProcessor(attn.processor, state)
    x = torch.randn(2, 256, 32)
    with pytest.raises(ValueError, match='attention masks'):
        processor(attn, x, attention_mask=torch.ones(2, 256))
    # Where AgentSD does not act, the mask reaches the original attention.
    state.update(ratio=0.0, agent_ratio=0.0)
    processor(attn, x, attention_mask=torch.ones(2, 256))


# --- (d) fp16 / bf16 with fp32 logits --------------------------------------


@pytest.mark.parametrize('dtype,tol', [(torch.float16, 2e-3),
                                       (torch.bfloat16, 1e-2)])
def test_low_precision_with_fp32_logits(dtype, tol, monkeypatch):
    g = torch.Generator().manual_seed(0)
    # Logits of several thousands: beyond what fp16 products keep exactly.
    q, k, v, a = (torch.randn(1, 2, n, 40, generator=g) * 30
                  for n in (64, 64, 64, 8))
    ins = [t.to(dtype) for t in (q, k, v, a)]
    ref = agent_attention(*(t.double() for t in ins), 40**-0.5)
    out = agent_attention(*ins, 40**-0.5, fp32_logits=True)
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert ((out.double() - ref).abs().max() / ref.abs().max()) < tol

    from mmagent.diffusion import processor as processor_module
    calls = []
    inner = processor_module._agent_attention

    def spy(*args):
        calls.append((args[0].dtype, torch.is_autocast_enabled('cpu')))
        return inner(*args)

    monkeypatch.setattr(processor_module, '_agent_attention', spy)
    model = random_unet(TINY_SD_UNET, dtype=dtype)
    apply_agent_attention(model, attn_precision='fp32')
    x, t, c = unet_inputs()
    out = run(model, (x.to(dtype), t, c.to(dtype)))
    # The three full-resolution self-attentions computed in fp32.
    assert calls == [(torch.float32, False)] * 3
    assert out.dtype == dtype and torch.isfinite(out).all()


def test_fp32_logits_hold_under_autocast(monkeypatch):
    g = torch.Generator().manual_seed(0)
    q, k, v, a = (torch.randn(1, 2, n, 40, generator=g) * 3
                  for n in (64, 64, 64, 8))
    ref = agent_attention(q, k, v, a, 40**-0.5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        kept = agent_attention(q, k, v, a, 40**-0.5, fp32_logits=True)
        lowered = agent_attention(q, k, v, a, 40**-0.5)
    torch.testing.assert_close(kept, ref)
    assert (lowered.float() - ref).abs().max() > 1e-3  # autocast did act

    from mmagent.diffusion import processor as processor_module
    calls = []
    inner = processor_module._agent_attention

    def spy(*args):
        calls.append(args[0].dtype)
        return inner(*args)

    monkeypatch.setattr(processor_module, '_agent_attention', spy)
    model = random_unet(TINY_SD_UNET)
    state = apply_agent_attention(model, attn_precision='fp32')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        run(model, unet_inputs())
        state.update(attn_precision=None)
        run(model, unet_inputs())
    assert calls == [torch.float32] * 3 + [torch.bfloat16] * 3


# --- schedule, SDXL, parameters ---------------------------------------------


def test_schedule_switches_phases_through_the_step_callback():
    pipe = random_sd_pipeline()
    state = apply_agent_attention(pipe)
    seen = []
    pipe.unet.register_forward_pre_hook(
        lambda m, a: seen.append((state.sx, state.agent_ratio)))
    schedule = AgentSDSchedule(pipe, phases=[
        (0, dict(sx=4, sy=4, agent_ratio=0.95)),
        (2, dict(sx=2, sy=2, agent_ratio=0.5))])
    image = pipe('a red circle', num_inference_steps=4, height=128,
                 width=128, generator=torch.Generator().manual_seed(0),
                 callback_on_step_end=schedule).images[0]
    assert image.size == (128, 128)
    # PNDM's PLMS runs 5 UNet steps for 4 inference steps.
    assert len(seen) == pipe.num_timesteps == 5
    assert seen == [(4, 0.95)] * 2 + [(2, 0.5)] * 3
    # The next call starts again in phase 0 (the timestep re-synchronises).
    seen.clear()
    pipe('a red circle', num_inference_steps=4, height=128, width=128,
         callback_on_step_end=schedule)
    assert seen == [(4, 0.95)] * 2 + [(2, 0.5)] * 3
    before = state.params()
    with pytest.raises(ValueError, match='step 0'):
        AgentSDSchedule(pipe, phases=[(5, dict(sx=2))])
    with pytest.raises(ValueError, match='ratio'):
        AgentSDSchedule(pipe, phases=[(0, dict(sx=1)), (9, dict(ratio=1.5))])
    # A refused schedule changes nothing and does not take over.
    assert state.params() == before and state.schedule is schedule

    # The same call gives the same image (the destinations are reseeded).
    def generate():
        return np.asarray(pipe(
            'a red circle', num_inference_steps=4, height=128, width=128,
            generator=torch.Generator().manual_seed(0),
            callback_on_step_end=schedule).images[0])

    assert np.array_equal(generate(), generate())


def test_schedule_counts_the_steps_an_img2img_run_skips():
    from diffusers import StableDiffusionImg2ImgPipeline
    pipe = StableDiffusionImg2ImgPipeline(**random_sd_pipeline().components)
    pipe.set_progress_bar_config(disable=True)
    state = apply_agent_attention(pipe)
    seen = []
    pipe.unet.register_forward_pre_hook(lambda m, a: seen.append(state.sx))
    schedule = AgentSDSchedule(pipe, phases=[(0, dict(sx=4, sy=4)),
                                             (7, dict(sx=2, sy=2))])
    image = torch.rand(1, 3, 128, 128)
    pipe('a red circle', image=image, strength=0.5, num_inference_steps=10,
         generator=torch.Generator().manual_seed(0),
         callback_on_step_end=schedule)
    # PLMS: 11 timesteps; strength 0.5 starts at step 5, so steps 5-6 are in
    # the first phase and 7-10 in the second.
    assert len(pipe.scheduler.timesteps) == 11
    assert seen == [4, 4, 2, 2, 2, 2]


def test_parameters_are_checked():
    state = AgentSDState()
    with pytest.raises(ValueError, match='agent_ratio'):
        state.update(agent_ratio=1.0)
    with pytest.raises(ValueError, match='sx'):
        state.update(sx=0)
    with pytest.raises(TypeError, match='unknown'):
        state.update(radio=0.3)
    assert state.params()['agent_ratio'] == 0.95
    with pytest.raises(ValueError, match='not a UNet'):
        apply_agent_attention(torch.nn.Linear(2, 2))
    from mmagent.diffusion.loading import looks_like_path
    assert not looks_like_path('runwayml/stable-diffusion-v1-5')
    assert all(map(looks_like_path, ['/data/sd15', './sd15', '~/sd',
                                     'data/models/sd15']))


def test_sdxl_layout_patches_its_first_attention_level():
    model = random_unet(TINY_SDXL_UNET)
    x, t, c = unet_inputs()
    added = dict(text_embeds=torch.randn(2, 32), time_ids=torch.randn(2, 6))
    ref = run(model, (x, t, c), added_cond_kwargs=added)
    # No attention at the latent resolution: max_downsample defaults to 2.
    state = apply_agent_attention(model)
    assert state.max_downsample == 2
    out = run(model, (x, t, c), added_cond_kwargs=added)
    assert torch.isfinite(out).all() and (out - ref).abs().max() > 1e-3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        apply_agent_attention(model, max_downsample=1)
    assert any('leaves it unchanged' in str(w.message) for w in caught)
    assert torch.equal(run(model, (x, t, c), added_cond_kwargs=added), ref)
    remove_agent_attention(model)
    assert torch.equal(run(model, (x, t, c), added_cond_kwargs=added), ref)


# --- the demo and the benchmark ---------------------------------------------


@pytest.mark.slow
def test_demo_script_end_to_end(tmp_path):
    model_dir = tmp_path / 'tiny-sd'
    random_sd_pipeline().save_pretrained(model_dir)
    out = tmp_path / 'side_by_side.png'
    env = {'HF_HUB_OFFLINE': '1', 'PATH': '/usr/bin:/bin'}
    done = subprocess.run(
        [sys.executable, 'demo/agentsd_demo.py', '--model',
         str(model_dir), '--prompt', 'a blue square', '--steps', '3',
         '--size', '128', '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    from PIL import Image
    with Image.open(out) as image:
        assert image.width >= 2 * 128 and image.height >= 128
    assert 'speed-up' in done.stdout and 'AgentSD' in done.stdout

    missing = subprocess.run(
        [sys.executable, 'demo/agentsd_demo.py', '--model',
         str(tmp_path / 'nowhere'), '--prompt', 'x'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert missing.returncode != 0
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and 'save_pretrained' in lines[0], missing.stderr
    assert 'Traceback' not in missing.stderr

    # The FID image-set generator, on the same pipeline.
    prompts = tmp_path / 'prompts.txt'
    prompts.write_text('a red circle\na green cross\n')
    images = tmp_path / 'agentsd'
    done = subprocess.run(
        [sys.executable, 'tools/analysis_tools/agentsd_generate.py',
         str(model_dir), str(images), '--agentsd', '--num-images', '3',
         '--prompts', str(prompts), '--steps', '2', '--batch-size', '2',
         '--size', '128'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in images.iterdir()) == [
        '00000.png', '00001.png', '00002.png', 'generation.json']


@pytest.mark.slow
def test_benchmark_tool_prints_ratios():
    done = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark_agentsd.py',
         '--unet', 'tiny', '--sizes', '128', '--repeat', '1', '--warmup',
         '0', '--no-memory'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if '| 128 |' in line]
    assert len(rows) == 5, done.stdout
    assert all(math.isfinite(float(row.split('|')[-2].strip().rstrip('x')))
               for row in rows)
