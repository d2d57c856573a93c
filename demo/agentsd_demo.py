# Copyright (c) mmagent contributors. All rights reserved.
"""Generate one image with and without AgentSD and save them side by side.

Examples::

    # Stable Diffusion 1.5 weights, saved locally or downloadable
    python demo/agentsd_demo.py --model runwayml/stable-diffusion-v1-5 \
        --prompt "a photo of an astronaut riding a horse on mars"
    # SD 2.1 in fp16: fp32 attention logits, as the AgentSD README says
    python demo/agentsd_demo.py --model stabilityai/stable-diffusion-2-1 \
        --prompt "..." --dtype fp16 --attn-precision fp32 --size 768

Both runs use the same seed; AgentSD follows the recommended schedule
(agents and ToMe for the first 20 steps, then ToMe only).
"""
import argparse
import sys
import time

import torch

# mmagent.diffusion.DTYPES; not imported here, so that a missing diffusers
# is reported by main() in one line rather than at import.
DTYPE_NAMES = ['bf16', 'fp16', 'fp32']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True,
                        help='diffusers pipeline folder or Hugging Face id')
    parser.add_argument('--prompt', required=True)
    parser.add_argument('--negative-prompt', default=None)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--size', type=int, default=None,
                        help='height and width (default: the model\'s)')
    parser.add_argument('--guidance', type=float, default=7.5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--dtype', choices=DTYPE_NAMES, default=None,
                        help='default: fp16 on cuda, fp32 on cpu')
    parser.add_argument('--attn-precision', choices=['fp32'], default=None,
                        help='compute the agent attention in fp32')
    parser.add_argument('--max-downsample', type=int, default=None,
                        help='default: 1, or 2 for SDXL-layout UNets')
    parser.add_argument('--out', default='agentsd_demo.png')
    return parser.parse_args()


def fail(message):
    print(f'error: {message}', file=sys.stderr)
    sys.exit(1)


def generate(pipe, args, **kwargs):
    generator = torch.Generator('cpu').manual_seed(args.seed)
    size = dict(height=args.size, width=args.size) if args.size else {}
    if pipe.device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    image = pipe(args.prompt, negative_prompt=args.negative_prompt,
                 num_inference_steps=args.steps,
                 guidance_scale=args.guidance, generator=generator, **size,
                 **kwargs).images[0]
    if pipe.device.type == 'cuda':
        torch.cuda.synchronize()
    return image, time.perf_counter() - start


def side_by_side(left, right, captions):
    from PIL import Image, ImageDraw
    strip = 24
    canvas = Image.new('RGB', (left.width + right.width,
                               max(left.height, right.height) + strip),
                       'white')
    canvas.paste(left, (0, strip))
    canvas.paste(right, (left.width, strip))
    draw = ImageDraw.Draw(canvas)
    for x, caption in zip((4, left.width + 4), captions):
        draw.text((x, 6), caption, fill='black')
    return canvas


def main():
    args = parse_args()
    try:
        from mmagent.diffusion import (AgentSDSchedule, PipelineLoadError,
                                       apply_agent_attention, load_pipeline,
                                       remove_agent_attention,
                                       resolve_device_dtype)
    except ImportError as error:
        fail(str(error))
    device, dtype_name = resolve_device_dtype(args.device, args.dtype)
    try:
        pipe = load_pipeline(args.model, dtype_name, device)
    except PipelineLoadError as error:
        fail(str(error))

    # A one-step warm-up before each timing, so neither pays first-call
    # costs (AgentSD's merging code runs only when patched).
    warm = argparse.Namespace(**{**vars(args), 'steps': 1})
    generate(pipe, warm)
    baseline, baseline_s = generate(pipe, args)

    params = dict(attn_precision=args.attn_precision)
    if args.max_downsample:
        params['max_downsample'] = args.max_downsample
    apply_agent_attention(pipe, **params)
    try:
        schedule = AgentSDSchedule(pipe)
        generate(pipe, warm, callback_on_step_end=schedule)
        agentsd, agentsd_s = generate(pipe, args,
                                      callback_on_step_end=schedule)
    finally:
        remove_agent_attention(pipe)

    speedup = baseline_s / agentsd_s
    captions = (f'baseline {baseline_s:.2f} s',
                f'AgentSD {agentsd_s:.2f} s ({speedup:.2f}x)')
    side_by_side(baseline, agentsd, captions).save(args.out)
    print(f'{args.steps} steps on {device} ({dtype_name}): '
          f'baseline {baseline_s:.2f} s, AgentSD {agentsd_s:.2f} s, '
          f'speed-up {speedup:.2f}x; saved {args.out}')


if __name__ == '__main__':
    main()
