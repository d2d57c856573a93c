# Copyright (c) mmagent contributors. All rights reserved.
"""Stable Diffusion UNets and pipelines with random weights, from configs.

For what needs no real weights: the speed benchmark (an SD-1.5-sized UNet),
the tests and the demo's self-check (tiny pipelines saved like real ones).
"""
import json
import os.path as osp
import tempfile

import torch

# diffusers' UNet2DConditionModel arguments of runwayml/stable-diffusion-v1-5
# (`attention_head_dim` there is the number of heads).
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D',
                      'CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D',
                    'CrossAttnUpBlock2D'),
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32)

# The same layout, small: one attention level at the latent resolution.
TINY_SD_UNET = dict(
    sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
    block_out_channels=(32, 64),
    down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
    cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8)

# SDXL's layout, small: no attention at the latent resolution, text_time
# conditioning (text_embeds of 32 + 6 time ids x 8).
TINY_SDXL_UNET = dict(
    sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
    block_out_channels=(32, 64),
    down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
    up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'),
    cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8,
    use_linear_projection=True, addition_embed_type='text_time',
    addition_time_embed_dim=8, projection_class_embeddings_input_dim=80)


def random_unet(config, seed=0, dtype=torch.float32):
    """A ``UNet2DConditionModel`` built from ``config`` with seeded random
    weights, in eval mode."""
    from diffusers import UNet2DConditionModel
    with torch.random.fork_rng(devices=[]):  # the caller's RNG untouched
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**config).eval()
    return unet if dtype == torch.float32 else unet.to(dtype)


def _byte_level_tokenizer(folder):
    """A CLIP tokenizer whose vocabulary is the byte alphabet, no merges."""
    from transformers import CLIPTokenizer
    from transformers.models.clip.tokenization_clip import bytes_to_unicode
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + '</w>' for s in symbols]
    vocab += ['<|startoftext|>', '<|endoftext|>']
    vocab_file = osp.join(folder, 'vocab.json')
    merges_file = osp.join(folder, 'merges.txt')
    with open(vocab_file, 'w', encoding='utf-8') as f:
        json.dump({token: i for i, token in enumerate(vocab)}, f)
    with open(merges_file, 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n')
    return CLIPTokenizer(vocab_file, merges_file, model_max_length=77)


def random_sd_pipeline(seed=0):
    """A tiny ``StableDiffusionPipeline`` (UNet, VAE with SD's 8x factor,
    CLIP text encoder and tokenizer, PNDM scheduler) with random weights."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = _byte_level_tokenizer(folder)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder, vae = _random_text_encoder_and_vae(tokenizer)
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear',
        num_train_timesteps=1000, skip_prk_steps=True, steps_offset=1,
        set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(),
        tokenizer=tokenizer, unet=random_unet(TINY_SD_UNET, seed),
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _random_text_encoder_and_vae(tokenizer):
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        block_out_channels=(32, 32, 32, 32), layers_per_block=1,
        down_block_types=('DownEncoderBlock2D', ) * 4,
        up_block_types=('UpDecoderBlock2D', ) * 4, norm_num_groups=8)
    return text_encoder, vae
