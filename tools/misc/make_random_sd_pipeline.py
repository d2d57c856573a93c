# Copyright (c) mmagent contributors. All rights reserved.
"""Save a tiny Stable Diffusion pipeline with random weights.

It has SD 1.x's layout (UNet with full-resolution self-attention, VAE with
the 8x factor, CLIP text encoder and tokenizer, PNDM scheduler) in a few MB,
so ``demo/agentsd_demo.py`` and AgentSD can be tried without downloading
weights; the images are noise. Example::

    python tools/misc/make_random_sd_pipeline.py data/tiny-sd
    python demo/agentsd_demo.py --model data/tiny-sd --prompt "a red square" \
        --steps 4 --size 128
"""
import argparse

from mmagent.diffusion.random_models import random_sd_pipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to save the pipeline in')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    random_sd_pipeline(args.seed).save_pretrained(args.out_dir)
    print(f'saved a random-weight Stable Diffusion pipeline in {args.out_dir}')


if __name__ == '__main__':
    main()
