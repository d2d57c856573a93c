# Copyright (c) mmagent contributors. All rights reserved.
"""AgentSD: training-free agent attention for Stable Diffusion in diffusers.

Needs the optional extra: ``pip install 'mmagent[diffusion]'``.

    >>> from mmagent.diffusion import apply_agent_attention, AgentSDSchedule
    >>> apply_agent_attention(pipe)
    >>> image = pipe(prompt, callback_on_step_end=AgentSDSchedule(pipe))
"""
try:
    import diffusers  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "mmagent.diffusion needs diffusers: pip install 'mmagent[diffusion]' "
        '(or pip install -r requirements/diffusion.txt)') from error

from .loading import (DTYPES, PipelineLoadError, default_max_downsample,
                      load_pipeline, resolve_device_dtype)
from .patch import (AgentSDState, agent_attention_state,
                    apply_agent_attention, remove_agent_attention)
from .processor import AgentSDProcessor, agent_attention
from .schedule import RECOMMENDED_PHASES, AgentSDSchedule
from .token_merging import BipartiteMatching, destination_mask, token_grid

__all__ = [
    'apply_agent_attention', 'remove_agent_attention', 'agent_attention_state',
    'AgentSDState', 'AgentSDSchedule', 'RECOMMENDED_PHASES',
    'AgentSDProcessor', 'agent_attention', 'BipartiteMatching',
    'destination_mask', 'token_grid', 'load_pipeline', 'PipelineLoadError',
    'default_max_downsample', 'resolve_device_dtype', 'DTYPES'
]
