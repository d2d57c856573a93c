# Copyright (c) mmagent contributors. All rights reserved.
"""Step-dependent AgentSD parameters through a pipeline's step callback."""
from .patch import agent_attention_state

# The AgentSD README's schedule (50 PLMS steps on SD 1.5): agents and ToMe
# for the first 20 steps, then a finer merge. With sx=sy=2 at most 3/4 of
# the tokens merge, so agent_ratio=0.5 leaves agents as many as half the
# tokens, not under half the 60% kept features: those steps run ToMe with
# softmax attention, as the official code does.
RECOMMENDED_PHASES = (
    (0, dict(sx=4, sy=4, ratio=0.4, agent_ratio=0.95)),
    (20, dict(sx=2, sy=2, ratio=0.4, agent_ratio=0.5)),
)


class AgentSDSchedule:
    """A ``callback_on_step_end`` that switches AgentSD's parameters.

    diffusers calls it at the end of step ``i``; it sets the parameters of
    step ``i + 1``, and after the last step those of step 0, so the same
    object serves the next call too. Phase 0 is set on construction.

    Args:
        pipe_or_unet: a pipeline or UNet already patched with
            :func:`apply_agent_attention`.
        phases (sequence): ``(first_step, params)`` pairs, one starting at
            step 0; ``params`` as :meth:`AgentSDState.update` takes them.

    Example:
        >>> state = apply_agent_attention(pipe)
        >>> image = pipe(prompt, num_inference_steps=50,
        ...              callback_on_step_end=AgentSDSchedule(pipe)).images[0]
    """

    def __init__(self, pipe_or_unet, phases=RECOMMENDED_PHASES):
        self.state = agent_attention_state(pipe_or_unet)
        if self.state is None:
            raise ValueError('AgentSDSchedule needs a UNet patched by '
                             'mmagent.diffusion.apply_agent_attention first')
        self.phases = sorted(((int(step), dict(params))
                              for step, params in phases),
                             key=lambda phase: phase[0])
        if not self.phases or self.phases[0][0] != 0:
            raise ValueError('the schedule needs a phase starting at step 0, '
                             f'got first steps {[s for s, _ in self.phases]}')
        # Check every phase now rather than mid-generation.
        saved = self.state.params()
        for _, params in self.phases:
            self.state.update(**params)
        self.state.update(**saved)
        self.set_step(0)

    def params_at(self, step):
        """The parameters the phases set for denoising step ``step``: those
        of every phase started by then, later ones overriding."""
        current = {}
        for first_step, params in self.phases:
            if first_step > step:
                break
            current.update(params)
        return current

    def set_step(self, step):
        self.state.update(**self.params_at(step))

    def __call__(self, pipe, step, timestep, callback_kwargs):
        next_step = step + 1
        total = getattr(pipe, 'num_timesteps', None)
        if isinstance(total, int) and next_step >= total:
            next_step = 0
        self.set_step(next_step)
        return callback_kwargs
