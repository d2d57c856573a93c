# Copyright (c) mmagent contributors. All rights reserved.
"""Apply and remove AgentSD on a diffusers UNet or pipeline."""
import warnings

import torch

from .loading import default_max_downsample
from .processor import AgentSDProcessor, is_patchable_self_attention

_STATE_ATTR = '_mmagent_agentsd'

# The first phase of the recommended schedule (AgentSD README).
DEFAULTS = dict(ratio=0.4, agent_ratio=0.95, sx=4, sy=4, max_downsample=1,
                k_scale2=0.3, k_shortcut=0.075, attn_precision=None,
                use_rand=True)


class AgentSDState:
    """The parameters every patched processor of one UNet reads.

    Args:
        ratio (float): fraction of a block's tokens merged away before its
            self-attention (ToMe), in ``[0, 1)``. At most ``1 - 1/(sx*sy)``
            of them can be merged.
        agent_ratio (float): fraction merged away to make the agent tokens,
            in ``[0, 1)``; agents are used only where they number less than
            half the merged features, else the block falls back to softmax
            attention on the merged tokens.
        sx, sy (int): destination stride of the merging.
        max_downsample (int): patch the blocks whose tokens are at most this
            many times coarser than the latent (1: the full-resolution
            blocks only; SDXL has none there, use 2).
        k_scale2 (float): the broadcast softmax uses ``scale ** k_scale2``.
        k_shortcut (float): weight of the value shortcut.
        attn_precision (str, optional): ``'fp32'`` computes the agent
            attention in fp32 (for fp16/bf16 models, e.g. SD 2.1). An
            attention built with ``upcast_attention`` always does.
        use_rand (bool): random destinations (even batches only).
        seed (int): seed of the destinations' generator (CPU, so results do
            not depend on the device).
    """

    def __init__(self, seed=0, **params):
        self.latent_size = None
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.hooks = []
        self.processors = []
        self.schedule = None  # an AgentSDSchedule attaches itself here
        for name, value in DEFAULTS.items():
            setattr(self, name, value)
        self.update(**params)

    def update(self, **params):
        """Change parameters between (or within) runs; checked first, so a
        bad value leaves the state as it was."""
        unknown = set(params) - set(DEFAULTS)
        if unknown:
            raise TypeError(f'unknown AgentSD parameter(s) {sorted(unknown)}; '
                            f'expected some of {sorted(DEFAULTS)}')
        merged = {name: getattr(self, name) for name in DEFAULTS}
        merged.update(params)

        def is_number(value):
            return (isinstance(value, (int, float))
                    and not isinstance(value, bool))

        for name in ('ratio', 'agent_ratio'):
            value = merged[name]
            if not is_number(value) or not 0 <= value < 1:
                raise ValueError(f'{name} must be in [0, 1), got {value!r}')
        for name in ('sx', 'sy', 'max_downsample'):
            value = merged[name]
            if not is_number(value) or value != int(value) or value < 1:
                raise ValueError(
                    f'{name} must be a positive integer, got {value!r}')
            merged[name] = int(value)
        for name in ('k_scale2', 'k_shortcut'):
            if not is_number(merged[name]):
                raise ValueError(
                    f'{name} must be a number, got {merged[name]!r}')
        if merged['attn_precision'] not in (None, 'fp32'):
            raise ValueError("attn_precision must be None or 'fp32', got "
                             f"{merged['attn_precision']!r}")
        for name, value in merged.items():
            setattr(self, name, value)
        return self

    def params(self):
        return {name: getattr(self, name) for name in DEFAULTS}

    def reseed(self):
        """Restart the destinations' generator (at the start of a run)."""
        self.generator.manual_seed(self.seed)


def _unet_of(pipe_or_unet):
    unet = getattr(pipe_or_unet, 'unet', pipe_or_unet)
    if not isinstance(unet, torch.nn.Module):
        raise TypeError('expected a diffusers pipeline with a `unet` or a '
                        f'UNet module, got {type(pipe_or_unet).__name__}')
    return unet


def _transformer_blocks(unet):
    from diffusers.models.attention import BasicTransformerBlock
    return [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]


def agent_attention_state(pipe_or_unet):
    """The :class:`AgentSDState` of a patched UNet, or None."""
    return getattr(_unet_of(pipe_or_unet), _STATE_ATTR, None)


def apply_agent_attention(pipe_or_unet, seed=0, **params):
    """Patch a Stable Diffusion UNet's self-attention with AgentSD.

    Training-free: ToMe merges each patched block's tokens, a coarser merged
    set projected by the block's own ``to_q`` serves as agents, and the
    attention becomes ``softmax(Q A^T s^k_scale2) softmax(A K^T s) V +
    k_shortcut V``. Cross-attention, the MLPs and every other module are
    left as they are. Applying again first removes the previous patch.

    Args:
        pipe_or_unet: a diffusers pipeline with a ``unet`` (e.g.
            ``StableDiffusionPipeline``, ``StableDiffusionXLPipeline``) or
            the ``UNet2DConditionModel`` itself.
        seed (int): seed of the random destinations.
        **params: see :class:`AgentSDState` (defaults: the first phase of
            the recommended schedule, ``ratio=0.4, agent_ratio=0.95,
            sx=sy=4``; ``max_downsample`` 1, or 2 for a UNet without
            full-resolution attention such as SDXL's).

    Returns:
        AgentSDState: change its parameters with ``.update(...)``, or let
        :class:`AgentSDSchedule` do it per denoising step.
    """
    unet = _unet_of(pipe_or_unet)
    if not hasattr(unet, 'down_blocks'):
        raise ValueError(
            f'{type(unet).__name__} is not a UNet: AgentSD patches the '
            'self-attention of Stable Diffusion UNets (SD 1.x/2.x/XL); '
            'transformer-only models (SD 3, Flux, PixArt) are not supported')
    params.setdefault('max_downsample', default_max_downsample(unet))
    state = AgentSDState(seed=seed, **params)
    remove_agent_attention(unet)
    blocks = _transformer_blocks(unet)
    targets = [block for block in blocks
               if block.attn1 is not None and not getattr(
                   block, 'only_cross_attention', False)
               and is_patchable_self_attention(block.attn1)]
    if not targets:
        raise ValueError(
            f'{type(unet).__name__} has no self-attention AgentSD can patch '
            '(it looks for diffusers BasicTransformerBlocks, as in the SD '
            '1.x/2.x/XL UNets)')

    def before_unet_call(module, args, kwargs):
        sample = args[0] if args else kwargs.get('sample')
        if sample is not None:
            state.latent_size = tuple(sample.shape[-2:])
        if state.schedule is not None:
            state.schedule.before_unet_call(
                args[1] if len(args) > 1 else kwargs.get('timestep'))

    state.hooks.append(
        unet.register_forward_pre_hook(before_unet_call, with_kwargs=True))
    for block in targets:
        processor = AgentSDProcessor(block.attn1.processor, state)
        state.hooks.append(block.register_forward_pre_hook(
            _metric_hook(block, processor), with_kwargs=True))
        block.attn1.set_processor(processor)
        state.processors.append((block.attn1, processor))
    setattr(unet, _STATE_ATTR, state)
    if state.max_downsample < default_max_downsample(unet):
        warnings.warn(
            'this UNet has no attention at the latent resolution (as SDXL), '
            'so max_downsample=1 leaves it unchanged; max_downsample=2 (the '
            'default for it) patches its first attention level')
    return state


def _metric_hook(block, processor):

    def hook(module, args, kwargs):
        # Only while ours is the processor: another one set since (xformers,
        # IP-adapter, fused projections) would leave the tensor held here.
        if block.attn1.processor is processor:
            processor.metric = (args[0] if args else
                                kwargs.get('hidden_states'))

    return hook


def remove_agent_attention(pipe_or_unet):
    """Undo :func:`apply_agent_attention`: the original processors are put
    back (unless something else replaced ours since) and the hooks removed.
    A UNet that is not patched is returned unchanged."""
    unet = _unet_of(pipe_or_unet)
    state = getattr(unet, _STATE_ATTR, None)
    if state is None:
        return pipe_or_unet
    for hook in state.hooks:
        hook.remove()
    for attn, processor in state.processors:
        if attn.processor is processor:
            attn.set_processor(processor.original)
        processor.metric = None
    state.hooks.clear()
    state.processors.clear()
    state.schedule = None
    delattr(unet, _STATE_ATTR)
    return pipe_or_unet
