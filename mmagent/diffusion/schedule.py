# Copyright (c) mmagent contributors. All rights reserved.
"""Step-dependent AgentSD parameters through a pipeline's step callback."""
import torch

from .patch import AgentSDState, _unet_of, agent_attention_state

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

    Steps are counted on the scheduler's whole list of timesteps, as the
    official sampler loop counts them, so a pipeline that starts part-way
    (img2img, inpainting: ``strength < 1``) is in the phase of its real
    step. diffusers calls the object after each step and it moves to the
    next step's parameters; before each UNet call, the patch checks the
    step against the timestep, so a new run (or one after an interrupted
    run) starts in its own phase and with the destinations' generator
    reseeded (the same call gives the same image).

    Args:
        pipe_or_unet: a pipeline (or UNet) already patched with
            :func:`apply_agent_attention`. Given a UNet, the scheduler is
            learnt at the first callback.
        phases (sequence): ``(first_step, params)`` pairs, one starting at
            step 0; ``params`` as :meth:`AgentSDState.update` takes them.
            A step's parameters are those of every phase started by then,
            later ones overriding.

    Example:
        >>> apply_agent_attention(pipe)
        >>> image = pipe(prompt, num_inference_steps=50,
        ...              callback_on_step_end=AgentSDSchedule(pipe)).images[0]
    """

    # diffusers' MultiPipelineCallbacks asks each callback for this.
    tensor_inputs = []

    def __init__(self, pipe_or_unet, phases=RECOMMENDED_PHASES):
        self.unet = _unet_of(pipe_or_unet)
        self.scheduler = getattr(pipe_or_unet, 'scheduler', None)
        state = agent_attention_state(self.unet)
        if state is None:
            raise ValueError('AgentSDSchedule needs a UNet patched by '
                             'mmagent.diffusion.apply_agent_attention first')
        self.phases = sorted(((int(step), dict(params))
                              for step, params in phases),
                             key=lambda phase: phase[0])
        if not self.phases or self.phases[0][0] != 0:
            raise ValueError('the schedule needs a phase starting at step 0, '
                             f'got first steps {[s for s, _ in self.phases]}')
        # Check every phase now, on a scratch state, rather than mid-run.
        scratch = AgentSDState(**state.params())
        for _, params in self.phases:
            scratch.update(**params)
        self.step = 0  # the step of the next UNet call
        self._values = (None, None)  # the timesteps, copied to the CPU once
        self.set_step(0)  # (and attach to the state)
        state.reseed()

    def _state(self):
        state = agent_attention_state(self.unet)
        if state is None:
            raise ValueError('AgentSDSchedule needs a UNet patched by '
                             'mmagent.diffusion.apply_agent_attention; it '
                             'was removed')
        state.schedule = self  # (again, after a re-apply)
        return state

    def params_at(self, step):
        """The parameters the phases set for denoising step ``step``."""
        current = {}
        for first_step, params in self.phases:
            if first_step > step:
                break
            current.update(params)
        return current

    def set_step(self, step):
        self._state().update(**self.params_at(step))

    def _timesteps(self):
        """The scheduler's timesteps as CPU doubles (None if unknown)."""
        timesteps = getattr(self.scheduler, 'timesteps', None)
        if not isinstance(timesteps, torch.Tensor):
            return None
        if self._values[0] is not timesteps:
            self._values = (timesteps,
                            timesteps.detach().flatten().cpu().double())
        return self._values[1]

    def before_unet_call(self, timestep):
        """Called by the patch before each UNet forward: re-synchronise the
        step with ``timestep`` when it is not the expected one (a new run,
        or one that starts part-way), then set that step's parameters."""
        values = self._timesteps()
        if values is not None and timestep is not None:
            t = float(torch.as_tensor(timestep).flatten()[0])
            if not (self.step < len(values) and values[self.step] == t):
                begin = getattr(self.scheduler, 'begin_index', None)
                if begin is not None and begin < len(values) and values[
                        begin] == t:
                    self.step = begin
                else:
                    matches = (values == t).nonzero()
                    self.step = int(matches[0]) if len(matches) else 0
                self._state().reseed()  # a new run: the same destinations
        self.set_step(self.step)

    def __call__(self, pipe, step, timestep, callback_kwargs):
        if self.scheduler is None:
            self.scheduler = getattr(pipe, 'scheduler', None)
        self.step += 1
        total = getattr(pipe, 'num_timesteps', None)
        if self._timesteps() is None and isinstance(
                total, int) and step + 1 >= total:
            self.step = 0  # no timesteps to re-synchronise with: restart
        self.set_step(self.step)
        return callback_kwargs
