# Copyright (c) mmagent contributors. All rights reserved.
"""Generate an image set with or without AgentSD, for FID.

The AgentSD README's protocol: SD 1.5, 2,000 512x512 images of ImageNet-1k
classes, 50 PLMS steps (SD 1.5's own scheduler). Image ``i`` uses prompt
``i`` (cycling) and seed ``seed + i`` in both runs, so the two sets differ
only by AgentSD. Then compare each set with real images, e.g.
``python -m pytorch_fid softmax/ imagenet_val_512/``. Example::

    python tools/analysis_tools/agentsd_generate.py \
        runwayml/stable-diffusion-v1-5 fid/agentsd --agentsd
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import torch

# mmagent.diffusion.DTYPES; not imported here, so that a missing diffusers
# is reported by main() in one line rather than at import.
DTYPE_NAMES = ['bf16', 'fp16', 'fp32']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', help='diffusers pipeline folder or id')
    parser.add_argument('out_dir')
    parser.add_argument('--agentsd', action='store_true',
                        help='with the recommended AgentSD schedule')
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--prompts', default=None,
                        help='text file, one prompt per line (default: '
                        '"a photo of a <class>" over the ImageNet classes)')
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--size', type=int, default=None)
    parser.add_argument('--guidance', type=float, default=7.5)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default=None)
    parser.add_argument('--dtype', choices=DTYPE_NAMES, default=None)
    parser.add_argument('--attn-precision', choices=['fp32'], default=None)
    return parser.parse_args()


def read_prompts(path):
    if path is None:
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
        return [f'a photo of a {name.split(",")[0]}'
                for name in IMAGENET_CATEGORIES]
    with open(path, encoding='utf-8') as f:
        prompts = [line.strip() for line in f if line.strip()]
    if not prompts:
        sys.exit(f'error: {path} has no prompt')
    return prompts


def main():
    args = parse_args()
    if args.num_images < 1 or args.batch_size < 1:
        sys.exit('error: --num-images and --batch-size must be positive')
    try:
        from mmagent.diffusion import (AgentSDSchedule, PipelineLoadError,
                                       apply_agent_attention, load_pipeline,
                                       resolve_device_dtype)
    except ImportError as error:
        sys.exit(f'error: {error}')
    prompts = read_prompts(args.prompts)
    device, dtype = resolve_device_dtype(args.device, args.dtype)
    try:
        pipe = load_pipeline(args.model, dtype, device)
    except PipelineLoadError as error:
        sys.exit(f'error: {error}')
    extra = {}
    if args.agentsd:
        apply_agent_attention(pipe, attn_precision=args.attn_precision)
        extra['callback_on_step_end'] = AgentSDSchedule(pipe)
    if args.size:
        extra.update(height=args.size, width=args.size)
    os.makedirs(args.out_dir, exist_ok=True)
    seconds = 0.0
    for first in range(0, args.num_images, args.batch_size):
        ids = range(first, min(first + args.batch_size, args.num_images))
        start = time.perf_counter()
        images = pipe([prompts[i % len(prompts)] for i in ids],
                      num_inference_steps=args.steps,
                      guidance_scale=args.guidance,
                      generator=[torch.Generator('cpu').manual_seed(
                          args.seed + i) for i in ids], **extra).images
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        for i, image in zip(ids, images):
            image.save(osp.join(args.out_dir, f'{i:05d}.png'))
    summary = dict(model=args.model, agentsd=args.agentsd,
                   images=args.num_images, steps=args.steps, device=device,
                   seconds_per_image=seconds / args.num_images)
    with open(osp.join(args.out_dir, 'generation.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'{args.num_images} images in {args.out_dir}: '
          f'{summary["seconds_per_image"]:.2f} s/image')


if __name__ == '__main__':
    main()
