# Copyright (c) mmagent contributors. All rights reserved.
"""Latency and peak memory of the Agent and FLatten backbones, fast vs
exact path, next to each other and to mmdet's softmax backbones of the same
size, and of BiViT's fake-quantized Swin-T next to full-precision Swin-T,
measured side by side in one run.

Every model of a setting (shape, batch, dtype, device) is timed in the same
round-robin loop (one call of each model per round, after warm-up), so
machine noise hits all of them alike; the median over rounds is reported,
then ratios against the fast path.

Examples::

    python tools/analysis_tools/benchmark_backbone.py \
        --shapes 800x1344 1600x1600
    # focused linear vs agent vs softmax attention, PVT-T and Swin-T sizes
    python tools/analysis_tools/benchmark_backbone.py --models \
        flatten-pvt-t agent-pvt-t mmdet-pvt-t \
        flatten-swin-t agent-swin-t mmdet-swin-t
    # BiViT (fake-quantized binary) Swin-T vs full-precision Swin-T
    python tools/analysis_tools/benchmark_backbone.py --models \
        bivit-swin-t swin-t --shapes 224x224 800x1344
    python tools/analysis_tools/benchmark_backbone.py --device cuda \
        --dtypes fp32 fp16 --mode train --batch-sizes 2
    # Agent-Swin-T/S/B against mmdet's Swin of the same size, training
    python tools/analysis_tools/benchmark_backbone.py --models \
        agent-swin-t mmdet-swin-t agent-swin-s mmdet-swin-s \
        agent-swin-b mmdet-swin-b --mode train --json swin_train.json

CPU runs keep freed memory for reuse (``--malloc cached``, as the tools do,
see :mod:`mmagent.utils.cpu_malloc`); ``--malloc system`` measures with the
C library's defaults.
"""
import argparse
import json
import statistics
import time
from collections import OrderedDict

import torch

import mmagent  # noqa: F401
from mmagent import AgentPVT, AgentSwinTransformer
from mmagent.models.backbones import FLattenPVT, FLattenSwinTransformer
from mmagent.utils.cpu_malloc import MODES, configure_cpu_malloc
from mmagent.utils.profiling import peak_memory

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


def agent_pair(cls, arch):
    """Fast and exact models sharing the same random weights."""

    def build(exact=True):
        fast = cls(arch=arch, drop_path_rate=0.)
        if not exact:
            return OrderedDict(fast=fast)
        reference = cls(arch=arch, drop_path_rate=0., exact=True)
        reference.load_state_dict(fast.state_dict())
        return OrderedDict(fast=fast, exact=reference)

    return build


def agent_swin_t_lean(exact=True):
    """Agent-Swin-T that recomputes its biases and maps in backward."""
    return OrderedDict(fast=AgentSwinTransformer(
        arch='t', drop_path_rate=0.,
        attn_cfgs=dict(agent=dict(checkpoint_maps=True))))


def mmdet_pvt(depths):

    def build():
        from mmdet.models.backbones import PyramidVisionTransformer
        return PyramidVisionTransformer(num_layers=depths, drop_path_rate=0.)

    return build


def mmdet_swin(embed_dims=96, depths=(2, 2, 6, 2),
               num_heads=(3, 6, 12, 24)):

    def build():
        from mmdet.models.backbones import SwinTransformer
        return SwinTransformer(embed_dims=embed_dims, depths=depths,
                               num_heads=num_heads, drop_path_rate=0.)

    return build


def bivit_swin_t(exact=True):
    """BiViT Swin-T: attention and MLP weights binary, fake-quantized
    (``binary``) and in deploy mode (``deploy``: int8 GEMMs)."""
    import copy

    from mmagent.models import binarize_backbone, switch_to_deploy
    model = binarize_backbone(swin_t(), attn=True, mlp=True)
    with torch.no_grad():  # the first binary forward sets each alpha
        model(torch.zeros(1, 3, 64, 64))
    return OrderedDict(binary=model,
                       deploy=switch_to_deploy(copy.deepcopy(model)))


def swin_t():
    """Swin-T as the Agent-Swin family with window attention everywhere."""
    return AgentSwinTransformer(
        arch=dict(embed_dims=96, depths=[2, 2, 6, 2],
                  num_heads=[3, 6, 12, 24], attn_type='BBBB'),
        drop_path_rate=0.)


# name -> (builder of {variant: model}, the models its first variant is
# compared with besides its own other variants)
SUITES = OrderedDict([
    ('agent-pvt-s', (agent_pair(AgentPVT, 's'), ['mmdet-pvt-s'])),
    ('agent-pvt-t', (agent_pair(AgentPVT, 't'), ['mmdet-pvt-t'])),
    ('agent-swin-t', (agent_pair(AgentSwinTransformer, 't'),
                      ['mmdet-swin-t'])),
    ('agent-swin-t-lean', (agent_swin_t_lean, ['mmdet-swin-t'])),
    ('agent-swin-s', (agent_pair(AgentSwinTransformer, 's'),
                      ['mmdet-swin-s'])),
    ('agent-swin-b', (agent_pair(AgentSwinTransformer, 'b'),
                      ['mmdet-swin-b'])),
    ('flatten-pvt-t', (agent_pair(FLattenPVT, 't'),
                       ['agent-pvt-t fast', 'mmdet-pvt-t'])),
    ('flatten-swin-t', (agent_pair(FLattenSwinTransformer, 't'),
                        ['agent-swin-t fast', 'mmdet-swin-t'])),
    ('bivit-swin-t', (bivit_swin_t, ['swin-t'])),
])
BASELINES = OrderedDict([('mmdet-pvt-s', mmdet_pvt([3, 4, 6, 3])),
                         ('mmdet-pvt-t', mmdet_pvt([2, 2, 2, 2])),
                         ('mmdet-swin-t', mmdet_swin()),
                         ('mmdet-swin-s', mmdet_swin(depths=(2, 2, 18, 2))),
                         ('mmdet-swin-b', mmdet_swin(128, (2, 2, 18, 2),
                                                     (4, 8, 16, 32))),
                         ('swin-t', swin_t)])
DEFAULT_MODELS = ['agent-pvt-s', 'agent-swin-t', 'mmdet-pvt-s',
                  'mmdet-swin-t']


# The README's speed tables: (key, title, arguments). ``--suite readme``
# runs each in a process of its own (the allocator mode is per process),
# then prints every table in markdown and writes all figures to --json.
SWIN_SIZES = ['agent-swin-t', 'mmdet-swin-t', 'agent-swin-s', 'mmdet-swin-s',
              'agent-swin-b', 'mmdet-swin-b']
SAME_SIZE = ['agent-pvt-t', 'agent-pvt-s', 'flatten-pvt-t', 'mmdet-pvt-t',
             'mmdet-pvt-s', 'flatten-swin-t']
README_SUITE = [
    ('train', 'Training step (forward + backward), fp32, batch 1',
     ['--mode', 'train', '--no-exact', '--models', *SWIN_SIZES,
      *SAME_SIZE]),
    ('inference', 'Inference, fp32, batch 1, fast and exact paths',
     ['--models', *SWIN_SIZES, *SAME_SIZE]),
    ('inference-1600', 'Inference, fp32, 1600x1600, batch 1',
     ['--no-exact', '--no-memory', '--shapes', '1600x1600', '--models',
      'agent-swin-t', 'mmdet-swin-t', *SAME_SIZE]),
    ('checkpoint-maps', 'Training step with checkpoint_maps=True '
     '(agent-swin-t-lean), fp32, batch 1',
     ['--mode', 'train', '--no-exact', '--models', 'agent-swin-t',
      'agent-swin-t-lean', 'mmdet-swin-t']),
    ('bf16', 'Inference under bf16 autocast next to fp32, batch 1',
     ['--no-exact', '--no-memory', '--dtypes', 'fp32', 'bf16', '--models',
      'agent-swin-t', 'mmdet-swin-t', 'agent-pvt-t', 'mmdet-pvt-t',
      'flatten-swin-t']),
    ('compile-inference', 'torch.compile (inductor, static shapes) next to '
     'eager, inference, fp32, batch 1',
     ['--no-exact', '--no-memory', '--compile', '--models', 'agent-swin-t',
      'mmdet-swin-t', 'flatten-swin-t']),
    ('compile-train', 'torch.compile (inductor, static shapes) next to '
     'eager, training step, fp32, batch 1',
     ['--mode', 'train', '--no-exact', '--no-memory', '--compile',
      '--models', 'agent-swin-t', 'mmdet-swin-t', 'flatten-swin-t']),
    ('system-malloc', 'With the C library\'s allocator (--malloc system), '
     'training step, fp32, batch 1',
     ['--malloc', 'system', '--mode', 'train', '--no-exact', '--no-memory',
      '--models', 'agent-swin-t', 'mmdet-swin-t', 'flatten-swin-t']),
    ('bivit', 'BiViT Swin-T (fake-quantized binary and deploy mode) next '
     'to full-precision Swin-T, inference, fp32',
     ['--no-memory', '--models', 'bivit-swin-t', 'swin-t', '--shapes',
      '224x224', '800x1344', '--batch-sizes', '1', '8']),
]


# Whole models through benchmark.py (``tool``): (key, title, arguments),
# each a config against its baseline in one round-robin loop.
MMDET_SWIN_T = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
MMSEG_SWIN_T = ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
                '8xb2-160k_ade20k-512x512.py')
MASK_RCNN = 'configs/det/mask-rcnn_agent-swin-t_fpn_1x_coco.py'
UPERNET = 'configs/seg/upernet_agent-swin-t_160k_ade20k-512x512.py'
WHOLE_MODELS = [
    ('mask-rcnn-train', 'Mask R-CNN Agent-Swin-T vs mmdet Swin-T, train',
     [MASK_RCNN, '--mode', 'train', '--batch-size', '2', '--repeats', '3',
      '--baseline', MMDET_SWIN_T]),
    ('mask-rcnn-inference', 'Mask R-CNN Agent-Swin-T vs mmdet Swin-T, '
     'inference', [MASK_RCNN, '--repeats', '3', '--baseline', MMDET_SWIN_T]),
    ('upernet-train', 'UperNet Agent-Swin-T vs mmseg Swin-T, train',
     [UPERNET, '--mode', 'train', '--shape', '512', '683', '--batch-size',
      '2', '--repeats', '3', '--baseline', MMSEG_SWIN_T]),
    ('upernet-inference', 'UperNet Agent-Swin-T vs mmseg Swin-T, inference',
     [UPERNET, '--shape', '512', '683', '--repeats', '3', '--baseline',
      MMSEG_SWIN_T]),
]
# ImageNet throughput, the papers' setting: classifier -> baseline of the
# same size: mmpretrain's softmax model where it has one, else the other
# linear attention on the same skeleton (FLatten for PVT and CSWin: neither
# mmpretrain nor this project has their softmax classifiers)
IMAGENET = [
    ('agent-deit-t', 'mmpretrain::deit/deit-tiny_4xb256_in1k.py'),
    ('agent-deit-s', 'mmpretrain::deit/deit-small_4xb256_in1k.py'),
    ('agent-swin-t', 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'),
    ('flatten-swin-t',
     'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'),
    ('agent-swin-s',
     'mmpretrain::swin_transformer/swin-small_16xb64_in1k.py'),
    ('flatten-swin-s',
     'mmpretrain::swin_transformer/swin-small_16xb64_in1k.py'),
    ('agent-pvt-t', 'configs/cls/flatten-pvt-t_in1k.py'),
    ('agent-pvt-s', 'configs/cls/flatten-pvt-s_in1k.py'),
    ('agent-cswin-t', 'configs/cls/flatten-cswin-t_in1k.py'),
    ('flatten-pvtv2-b1', None),
]
for _name, _baseline in IMAGENET:
    WHOLE_MODELS.append((
        f'imagenet-{_name}', f'ImageNet {_name}, 224x224, batch 64',
        [f'configs/cls/{_name}_in1k.py', '--shape', '224', '224',
         '--batch-size', '64', '--repeats', '2',
         *(['--baseline', _baseline] if _baseline else [])]))
README_SUITE += [(key, title, argv, 'benchmark.py')
                 for key, title, argv in WHOLE_MODELS]


# One GPU (``--suite gpu``): the backbones in fp32, fp16 and bf16, eager and
# compiled, at the detection size (inference and training) and at the
# papers' ImageNet setting (224x224, batch 64); figures to
# docs/benchmarks/gpu-<device>.json.
GPU_MODELS = ['agent-swin-t', 'mmdet-swin-t', 'flatten-swin-t',
              'agent-pvt-t', 'mmdet-pvt-t', 'flatten-pvt-t']
GPU_COMMON = ['--no-exact', '--compile', '--dtypes', 'fp32', 'fp16', 'bf16',
              '--models', *GPU_MODELS]
GPU_SUITE = [
    ('gpu-inference-800', 'Inference, 800x1344, batch 1, fp32/fp16/bf16, '
     'eager and compiled', GPU_COMMON),
    ('gpu-train-800', 'Training step, 800x1344, batch 1, fp32/fp16/bf16, '
     'eager and compiled', ['--mode', 'train', *GPU_COMMON]),
    ('gpu-inference-224', 'Inference, 224x224, batch 64, fp32/fp16/bf16, '
     'eager and compiled',
     ['--shapes', '224x224', '--batch-sizes', '64', *GPU_COMMON]),
]
SUITE_RUNS = dict(readme=README_SUITE, gpu=GPU_SUITE)


def device_slug(device: str) -> str:
    """``cuda`` -> e.g. ``nvidia-h100-80gb-hbm3``, for file names."""
    import re
    name = torch.cuda.get_device_name(torch.device(device))
    return re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')


def baseline_of(name):
    """The softmax model a row is compared with (the last of its suite's
    comparisons), compiled when the row is."""
    suite, _, variant = name.partition(' ')
    if suite not in SUITES:
        return None
    base = SUITES[suite][1][-1]
    return f'{base} compiled' if variant.endswith('compiled') else base


def whole_model_table(runs):
    """One markdown table of benchmark.py runs, a row per run: the config,
    its baseline (if any) and the ratio."""
    lines = ['| config | mode, input, batch | s/batch (img/s) | baseline | '
             's/batch (img/s) | baseline / config |', '| --- ' * 6 + '|']
    for run in runs:
        by_name = {r['name']: r for r in run['results']}
        model, base = by_name['fast'], by_name.get('baseline')
        cells = [f'`{model["config"]}`',
                 f'{run["mode"]}, {run["shape"][0]}x{run["shape"][1]}, '
                 f'{run["batch"]}',
                 f'{model["seconds"]:.2f} ({model["images_per_second"]:.2f})']
        if base:
            cells += [f'`{base["config"]}`',
                      f'{base["seconds"]:.2f} '
                      f'({base["images_per_second"]:.2f})',
                      f'{base["seconds"] / model["seconds"]:.2f}x']
        else:
            cells += ['-', '', '']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def markdown_table(records):
    """One markdown table of a run's records."""
    lines = ['| model | input | batch | dtype | latency | peak memory | '
             'softmax / model | compile |', '| --- ' * 8 + '|']
    by_key = {(r['model'], tuple(r['shape']), r['batch'], r['dtype']): r
              for r in records}
    for r in records:
        key = (tuple(r['shape']), r['batch'], r['dtype'])
        base = by_key.get((baseline_of(r['model']), *key))
        ratio = (f'{base["model"]}: {base["seconds"] / r["seconds"]:.2f}x'
                 if base else '')
        memory = (f'{r["peak_bytes"] / 2**20:.0f} MB' if r['peak_bytes']
                  else '-')
        compiled = (f'{r["compile"]["seconds"]:.0f} s (error '
                    f'{r["compile"]["error"]:.0e})' if r.get('compile')
                    else '')
        lines.append(f'| {r["model"]} | {r["shape"][0]}x{r["shape"][1]} | '
                     f'{r["batch"]} | {r["dtype"]} | '
                     f'{r["seconds"]:.3f} s | {memory} | {ratio} | '
                     f'{compiled} |')
    return '\n'.join(lines)


def run_suite(args):
    """Every run of ``args.suite``, one process each; figures to
    ``args.json`` (default ``benchmark_readme.json``, for ``gpu``
    ``docs/benchmarks/gpu-<device>.json``), tables printed in markdown."""
    import os
    import subprocess
    import sys
    import tempfile
    if args.suite == 'gpu':
        if args.device == 'cpu':
            args.device = 'cuda'
        if not torch.cuda.is_available():
            raise SystemExit('--suite gpu needs a CUDA GPU: torch sees none '
                             '(torch.cuda.is_available() is False)')
        if args.repeats == 3:  # the CPU default: GPUs time far more rounds
            args.repeats = 20
        if args.warmup == 1:
            args.warmup = 5
    out = args.json or (
        f'docs/benchmarks/gpu-{device_slug(args.device)}.json'
        if args.suite == 'gpu' else 'benchmark_readme.json')
    runs = []
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        for key, title, argv, *tool in SUITE_RUNS[args.suite]:
            if args.runs and key not in args.runs:
                continue
            tool = tool[0] if tool else os.path.basename(__file__)
            path = f'{tmp}/{key}.json'
            command = [sys.executable, os.path.join(here, tool), *argv,
                       '--json', path, '--device', args.device, '--warmup',
                       str(args.warmup)]
            if tool == os.path.basename(__file__):
                command += ['--repeats', str(args.repeats)]
                if args.threads:
                    command += ['--threads', str(args.threads)]
            print(f'## {key}: {" ".join(command[1:])}', flush=True)
            env = dict(os.environ)
            if '--compile' in argv:  # cold compile times: no cache hits
                env['TORCHINDUCTOR_FORCE_DISABLE_CACHES'] = '1'
            subprocess.run(command, check=True, env=env)
            with open(path) as f:
                runs.append(dict(key=key, title=title, arguments=argv,
                                 **json.load(f)))
    with open(out, 'w') as f:
        json.dump(runs, f, indent=1)
    print(f'\nAll figures: {out}\n')
    whole = [run for run in runs if run.get('tool') == 'benchmark.py']
    for run in runs:
        if run in whole:
            continue
        print(f'### {run["title"]}\n\n{run["device"]}, torch '
              f'{run["torch"]}, malloc {run["malloc"]}, median of '
              f'{run["repeats"]}; `benchmark_backbone.py '
              f'{" ".join(run["arguments"])}`\n')
        print(markdown_table(run['results']) + '\n')
    for group, title in (('imagenet-', 'ImageNet throughput'),
                         ('', 'Whole models')):
        chosen = [run for run in whole if run['key'].startswith(group)]
        whole = [run for run in whole if run not in chosen]
        if chosen:
            print(f'### {title}\n\n{chosen[0]["device"]}, torch '
                  f'{chosen[0]["torch"]}; `benchmark.py` runs ' +
                  ', '.join(run['key'] for run in chosen) + '\n')
            print(whole_model_table(chosen) + '\n')


def parse_shape(text):
    h, w = text.lower().split('x')
    return int(h), int(w)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Benchmark Agent and FLatten backbones (fast vs exact) '
        'and mmdet softmax backbones side by side')
    parser.add_argument('--models', nargs='+', default=DEFAULT_MODELS,
                        choices=[*SUITES, *BASELINES])
    parser.add_argument('--suite', choices=list(SUITE_RUNS),
                        help='readme: run every README speed table (one '
                        'process each), print them in markdown, write all '
                        'figures to --json; gpu: the GPU tables (fp32, '
                        'fp16, bf16, eager and compiled, 800x1344 batch 1 '
                        'and 224x224 batch 64) on --device (default cuda), '
                        'figures to docs/benchmarks/gpu-<device>.json')
    parser.add_argument('--runs', nargs='+', metavar='KEY',
                        choices=[run[0] for suite in SUITE_RUNS.values()
                                 for run in suite],
                        help='with --suite: only these of its runs')
    parser.add_argument('--shapes', nargs='+', type=parse_shape,
                        default=[(800, 1344)], metavar='HxW')
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1])
    parser.add_argument('--dtypes', nargs='+', default=['fp32'],
                        choices=list(DTYPES),
                        help='fp16/bf16 run under torch.autocast')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--mode', default='inference',
                        choices=['inference', 'train'],
                        help='inference: no-grad forward; train: forward + '
                        'backward of the summed outputs')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--no-exact', action='store_true',
                        help='leave out the exact (reference) paths')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak memory measurement')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads for CPU runs')
    parser.add_argument('--compile', action='store_true',
                        help='also time a torch.compile\'d copy of every '
                        'model (same weights, inductor, static shapes: one '
                        'compilation per setting, reported)')
    parser.add_argument('--malloc', choices=MODES, default='cached',
                        help='cached: freed host memory is reused, as the '
                        'tools do; system: the C library\'s defaults')
    parser.add_argument('--json', metavar='FILE',
                        help='also write every figure (seconds, bytes, '
                        'setting) to this JSON file')
    return parser.parse_args()


def make_step(model, x, dtype, device, mode):
    autocast = dtype != torch.float32

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=autocast):
            if mode == 'inference':
                with torch.no_grad():
                    return model(x)
            outs = model(x)
            loss = sum(o.float().mean() for o in outs)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return outs

    return step


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run_setting(models, shape, batch, dtype_name, device, args):
    dtype = DTYPES[dtype_name]
    x = torch.randn(batch, 3, *shape, device=device)
    steps = OrderedDict()
    for name, model in models.items():
        model.to(device).train(args.mode == 'train')
        steps[name] = make_step(model, x, dtype, device, args.mode)
    compiling = {}
    for name, step in steps.items():  # compiles: timed apart from warm-up
        if name.endswith(' compiled'):
            synchronize(device)
            start = time.perf_counter()
            outs = step()
            synchronize(device)
            seconds = time.perf_counter() - start
            eager = steps[name[:-len(' compiled')]]()
            error = max(((out.float() - ref.float()).abs().max() /
                         ref.float().abs().max()).item()
                        for out, ref in zip(outs, eager))
            compiling[name] = dict(seconds=seconds, error=error)
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():  # round-robin: same noise for all
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    memory = {}
    if not args.no_memory:
        for name, step in steps.items():
            memory[name] = peak_memory(step, device)[1]
    return ({name: statistics.median(t) for name, t in times.items()},
            memory, compiling)


def main():
    args = parse_args()
    if args.suite:
        return run_suite(args)
    malloc = configure_cpu_malloc(args.malloc)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = OrderedDict()
    for name in args.models:
        if name in SUITES:
            for variant, model in SUITES[name][0](
                    exact=not args.no_exact).items():
                models[f'{name} {variant}'] = model
        else:
            models[name] = BASELINES[name]()
    if args.compile:  # the exact paths are references, not compiled
        for name in [n for n in models if not n.endswith(' exact')]:
            models[f'{name} compiled'] = torch.compile(models[name],
                                                       dynamic=False)
    first = {}
    for name in models:
        first.setdefault(name.partition(' ')[0], name)
    where = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'CPU, {torch.get_num_threads()} threads')
    print(f'device: {where}; torch {torch.__version__}; mode {args.mode}; '
          f'malloc {malloc}; median of {args.repeats} round-robin repeats '
          f'after {args.warmup} warm-up')
    records = []
    header = (f'{"model":<22} {"shape":>10} {"batch":>5} {"dtype":>5} '
              f'{"latency":>9} {"peak mem":>9}  ratios')
    for shape in args.shapes:
        for batch in args.batch_sizes:
            for dtype_name in args.dtypes:
                latency, memory, compiling = run_setting(
                    models, shape, batch, dtype_name, device, args)
                records += [dict(model=name, shape=list(shape), batch=batch,
                                 dtype=dtype_name, seconds=latency[name],
                                 peak_bytes=memory.get(name),
                                 compile=compiling.get(name))
                            for name in models]
                print(header)
                for name in models:
                    line = (f'{name:<22} {shape[0]}x{shape[1]:<5} {batch:>5} '
                            f'{dtype_name:>5} {latency[name] * 1000:>7.0f}ms ')
                    line += (f'{memory[name] / 2**20:>7.0f}MB'
                             if name in memory else f'{"-":>9}')
                    suite, _, variant = name.partition(' ')
                    if suite in SUITES and name == first[suite]:
                        ratios = []
                        others = [n for n in models if n != name and
                                  n.startswith(f'{suite} ')]
                        for other in (*others, *SUITES[suite][1]):
                            if other in latency:
                                label = other.replace(' fast', '')
                                ratios.append(
                                    f'{label}/{variant}: time '
                                    f'{latency[other] / latency[name]:.2f}x')
                                if other in memory and memory[name]:
                                    ratios[-1] += (
                                        f', memory '
                                        f'{memory[other] / memory[name]:.2f}x')
                        line += '  ' + '; '.join(ratios)
                    if name in compiling:
                        eager = name[:-len(' compiled')]
                        line += (f'  compiled in '
                                 f'{compiling[name]["seconds"]:.0f}s, '
                                 f'error {compiling[name]["error"]:.1e}; '
                                 f'eager/compiled: time '
                                 f'{latency[eager] / latency[name]:.2f}x')
                        if suite in SUITES:
                            for other in SUITES[suite][1]:
                                other = f'{other} compiled'
                                if other in latency:
                                    ratio = latency[other] / latency[name]
                                    line += (f'; {other}/{variant}: time '
                                             f'{ratio:.2f}x')
                    print(line)
                print()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=where, torch=torch.__version__,
                           mode=args.mode, malloc=malloc,
                           repeats=args.repeats, results=records), f,
                      indent=1)


if __name__ == '__main__':
    main()
