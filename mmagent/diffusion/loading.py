# Copyright (c) mmagent contributors. All rights reserved.
"""Loading a diffusers pipeline for AgentSD, with one clear error."""
import importlib.util
import os
import os.path as osp

import torch

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)

LOAD_HINT = ("Point --model at a local folder written by a pipeline's "
             'save_pretrained() (it holds model_index.json), or at a Hugging '
             'Face id such as runwayml/stable-diffusion-v1-5 on a machine '
             'that can download it.')


class PipelineLoadError(RuntimeError):
    """The pipeline could not be loaded; the message says why and what to
    do, in one line."""


def looks_like_path(model):
    """A folder rather than a Hugging Face id (``owner/name``)."""
    return (osp.isabs(model) or model.startswith(('.', '~'))
            or model.count('/') > 1 or (os.sep != '/' and os.sep in model))


def resolve_device_dtype(device=None, dtype=None):
    """``(device, dtype name)``: by default CUDA in fp16 when available,
    else the CPU in fp32."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return device, dtype or ('fp16' if device.startswith('cuda') else 'fp32')


def load_pipeline(model, dtype='fp32', device='cpu'):
    """``DiffusionPipeline.from_pretrained(model)`` in ``dtype`` (a name of
    :data:`DTYPES`) on ``device``, with a UNet (the pipelines AgentSD
    applies to).

    diffusers reads ``.bin`` weights with ``torch.load(weights_only=True)``
    and runs no repository code unless asked to (``trust_remote_code``),
    which this function never does.

    Raises:
        PipelineLoadError: missing or unreadable weights, or a pipeline
            without a UNet.
    """
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging
    verbosity = diffusers_logging.get_verbosity()
    # Errors are reported below in one line; diffusers' own warnings on the
    # way there ("will try to load from local cache") would only add noise.
    diffusers_logging.set_verbosity_error()
    try:
        pipe = DiffusionPipeline.from_pretrained(
            osp.expanduser(model), torch_dtype=DTYPES[dtype],
            low_cpu_mem_usage=importlib.util.find_spec('accelerate')
            is not None)
    except Exception as error:  # one message, whatever broke inside
        if looks_like_path(model) and not osp.isdir(model):
            reason = 'no such folder'
        else:
            reason = (str(error).strip().splitlines() or [''])[0]
            reason = reason.replace(
                ' Please check out the root cause in the stacktrace above.',
                '') or type(error).__name__
        raise PipelineLoadError(
            f'cannot load a diffusers pipeline from {model!r} ({reason}). '
            f'{LOAD_HINT}') from error
    finally:
        diffusers_logging.set_verbosity(verbosity)
    if getattr(pipe, 'unet', None) is None:
        raise PipelineLoadError(
            f'{model!r} is a {type(pipe).__name__} without a UNet; AgentSD '
            'patches UNet pipelines (SD 1.x, 2.x, XL)')
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def default_max_downsample(unet):
    """1 for SD 1.x/2.x; 2 for UNets without full-resolution attention
    (SDXL), whose first attention level is then patched."""
    first = unet.down_blocks[0] if getattr(unet, 'down_blocks', None) else None
    return 1 if getattr(first, 'attentions', None) else 2
