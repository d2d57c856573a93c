# Copyright (c) mmagent contributors. All rights reserved.
"""UNet denoising-step time (and peak memory) with and without AgentSD.

An SD-1.5-sized UNet is built from its config with random weights (timings
do not depend on the weights), then, per image size, every variant runs in
the same round-robin loop (one step each per round), so machine noise hits
them alike; medians and ratios against softmax attention are printed from
this one run. Variants:

- ``softmax``: the UNet as built (diffusers' SDPA attention);
- ``tome``: token merging only (sx=sy=4, ratio 0.4, no agents);
- ``agentsd-early``: the recommended first 20 steps (sx=sy=4, ratio 0.4,
  agent_ratio 0.95);
- ``agentsd-late``: the recommended later steps (sx=sy=2, ratio 0.4,
  agent_ratio 0.5: too many agents, so ToMe with softmax);

and the 50-step schedule (20 early + 30 late steps) is summed from them.
Image quality (FID) needs the real weights: see the README.

Examples::

    python tools/analysis_tools/benchmark_agentsd.py
    python tools/analysis_tools/benchmark_agentsd.py --device cuda \
        --dtype fp16 --batch 2 --repeat 10
"""
import argparse
import statistics
import time

import torch

from mmagent.diffusion import (DTYPES, apply_agent_attention,
                               remove_agent_attention)
from mmagent.diffusion.random_models import (SD15_UNET, TINY_SD_UNET,
                                             random_unet)
from mmagent.utils.profiling import peak_memory

UNETS = dict(sd15=SD15_UNET, tiny=TINY_SD_UNET)
VARIANTS = dict(
    softmax=None,
    tome=dict(sx=4, sy=4, ratio=0.4, agent_ratio=0.0),
    **{'agentsd-early': dict(sx=4, sy=4, ratio=0.4, agent_ratio=0.95),
       'agentsd-late': dict(sx=2, sy=2, ratio=0.4, agent_ratio=0.5)})
EARLY_STEPS, TOTAL_STEPS = 20, 50


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--unet', choices=sorted(UNETS), default='sd15')
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[512, 768, 1024], help='image pixels')
    parser.add_argument('--batch', type=int, default=1,
                        help='UNet batch (2 = one image with guidance)')
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32')
    parser.add_argument('--attn-precision', choices=['fp32'], default=None)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory pass')
    return parser.parse_args()


def set_variant(unet, params, attn_precision):
    remove_agent_attention(unet)
    if params is not None:
        apply_agent_attention(unet, attn_precision=attn_precision, **params)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    config = UNETS[args.unet]
    unet = random_unet(config, dtype=dtype).to(device)
    context = torch.randn(args.batch, 77, config['cross_attention_dim'],
                          device=device, dtype=dtype)
    timestep = torch.tensor(500, device=device)

    def step():
        with torch.no_grad():
            out = unet(latent, timestep, context).sample
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return out

    params = sum(p.numel() for p in unet.parameters()) / 1e6
    print(f'UNet {args.unet} ({params:.0f}M parameters), random weights, '
          f'batch {args.batch}, '
          f'{args.dtype}, {device}, {torch.get_num_threads()} threads, '
          f'median of {args.repeat}')
    print('| size | variant | step (s) | peak memory (MB) | vs softmax |')
    print('|---|---|---|---|---|')
    for size in args.sizes:
        latent = torch.randn(args.batch, config['in_channels'], size // 8,
                             size // 8, device=device, dtype=dtype)
        times = {name: [] for name in VARIANTS}
        for round_ in range(args.warmup + args.repeat):
            for name, params in VARIANTS.items():
                set_variant(unet, params, args.attn_precision)
                start = time.perf_counter()
                step()
                if round_ >= args.warmup:
                    times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name, params in VARIANTS.items():
            memory = '-'
            if not args.no_memory:
                set_variant(unet, params, args.attn_precision)
                memory = f'{peak_memory(step, device)[1] / 2**20:.0f}'
            ratio = medians['softmax'] / medians[name]
            print(f'| {size} | {name} | {medians[name]:.3f} | {memory} | '
                  f'{ratio:.2f}x |')
        remove_agent_attention(unet)
        schedule = (EARLY_STEPS * medians['agentsd-early'] +
                    (TOTAL_STEPS - EARLY_STEPS) * medians['agentsd-late'])
        baseline = TOTAL_STEPS * medians['softmax']
        print(f'| {size} | {TOTAL_STEPS}-step schedule | '
              f'{schedule:.1f} vs {baseline:.1f} total | - | '
              f'{baseline / schedule:.2f}x |')


if __name__ == '__main__':
    main()
