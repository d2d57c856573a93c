# Copyright (c) mmagent contributors. All rights reserved.
"""AgentSD's attention processor for diffusers' self-attention.

Per call, on a block's ``(B, N, C)`` tokens: merge them (ToMe), attend with
agents when the agents are few enough, else with the original processor on
the merged tokens, then unmerge back to ``N`` tokens. The block around it is
not patched: ToMe merges only the self-attention's input and unmerges its
output, which is exactly what a processor sees.
"""
import torch
import torch.nn.functional as F

from .token_merging import BipartiteMatching, token_grid


def agent_attention(query, key, value, agents, scale, k_scale2=0.3,
                    k_shortcut=0.075, fp32_logits=False):
    """AgentSD's attention on per-head tokens.

    ``softmax(Q A^T s^k_scale2) softmax(A K^T s) V + k_shortcut V``, with
    ``A`` the agent tokens projected by the block's own ``to_q``.

    Args:
        query, key, value (Tensor): ``(B, heads, N, d)``.
        agents (Tensor): ``(B, heads, n, d)``, ``n`` agents.
        scale (float): the attention's own scale ``s`` (``d ** -0.5``).
        k_scale2 (float): exponent of ``s`` for the broadcast softmax.
        k_shortcut (float): weight of the value shortcut.
        fp32_logits (bool): compute both attentions in fp32 (for fp16/bf16
            models whose logits overflow, e.g. SD 2.1), cast back after.

    Returns:
        Tensor: ``(B, heads, N, d)`` in ``value``'s dtype.
    """
    dtype = value.dtype
    if not fp32_logits:
        return _agent_attention(query, key, value, agents, scale, k_scale2,
                                k_shortcut)
    # Autocast would run SDPA in half precision again: off for this part.
    upcast = [t.float() for t in (query, key, value, agents)]
    with torch.autocast(query.device.type, enabled=False):
        out = _agent_attention(*upcast, scale, k_scale2, k_shortcut)
    return out.to(dtype)


def _agent_attention(query, key, value, agents, scale, k_scale2, k_shortcut):
    agent_values = F.scaled_dot_product_attention(agents, key, value,
                                                  scale=scale)
    out = F.scaled_dot_product_attention(query, agents, agent_values,
                                         scale=scale**k_scale2)
    return (out + k_shortcut * value).to(value.dtype)


class AgentSDProcessor:
    """Wraps a self-attention's original processor.

    Args:
        original: the processor it replaces; it runs whenever AgentSD does
            not apply (other resolutions, cross-attention) and on the merged
            tokens when there are too many agents.
        state (AgentSDState): the shared parameters and latent size.
    """

    def __init__(self, original, state):
        self.original = original
        self.state = state
        # The block's input, set by its forward pre-hook: the merge metric.
        self.metric = None

    def matching(self, hidden_states, metric):
        """The block's :class:`BipartiteMatching`, or None when AgentSD does
        not apply to it."""
        cfg = self.state
        latent_hw = cfg.latent_size
        num_tokens = hidden_states.shape[1]
        if latent_hw is None or (cfg.ratio <= 0 and cfg.agent_ratio <= 0):
            return None
        downsample, h, w = token_grid(latent_hw, num_tokens)
        if (downsample > cfg.max_downsample or h * w != num_tokens
                or h < cfg.sy or w < cfg.sx):  # no whole cell, no merging
            return None
        if metric is None or metric.shape[:2] != hidden_states.shape[:2]:
            metric = hidden_states
        # An odd batch cannot pair conditional and unconditional images, so
        # random destinations would differ between them: AgentSD fixes them.
        generator = cfg.generator if (cfg.use_rand and
                                      hidden_states.shape[0] % 2 == 0) else None
        return BipartiteMatching(metric, h, w, cfg.sx, cfg.sy,
                                 int(num_tokens * cfg.ratio),
                                 int(num_tokens * cfg.agent_ratio), generator)

    def __call__(self, attn, hidden_states, encoder_hidden_states=None,
                 attention_mask=None, temb=None, *args, **kwargs):
        metric, self.metric = self.metric, None
        match = None
        if encoder_hidden_states is None and hidden_states.ndim == 3:
            match = self.matching(hidden_states, metric)
        if match is None or (match.r == 0 and not match.has_agents):
            return self.original(attn, hidden_states, encoder_hidden_states,
                                 attention_mask, temb, *args, **kwargs)
        if attention_mask is not None:
            raise ValueError(
                'AgentSD does not support attention masks in self-attention '
                '(merged tokens and agents have no masked form). Call '
                'mmagent.diffusion.remove_agent_attention(...) before '
                'running with a mask, or turn AgentSD off for those calls '
                'with state.update(ratio=0, agent_ratio=0).')
        if match.has_agents:
            out = self.attend_with_agents(
                attn, *match.merge_with_agents(hidden_states))
        else:
            out = self.original(attn, match.merge(hidden_states), None, None,
                                temb, *args, **kwargs)
        return match.unmerge(out)

    def attend_with_agents(self, attn, hidden_states, agents):
        """The self-attention module's projections around
        :func:`agent_attention`: ``(B, N, C), (B, n, C) -> (B, N, C)``."""
        batch, num_tokens, _ = hidden_states.shape
        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        agents = attn.to_q(agents)
        head_dim = key.shape[-1] // attn.heads

        def heads(t):
            return t.view(batch, -1, attn.heads, head_dim).transpose(1, 2)

        query, key, value, agents = map(heads, (query, key, value, agents))
        if attn.norm_q is not None:
            query, agents = attn.norm_q(query), attn.norm_q(agents)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        fp32_logits = (self.state.attn_precision == 'fp32'
                       or bool(getattr(attn, 'upcast_attention', False)))
        out = agent_attention(query, key, value, agents, attn.scale,
                              self.state.k_scale2, self.state.k_shortcut,
                              fp32_logits)
        out = out.transpose(1, 2).reshape(batch, num_tokens, -1)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def is_patchable_self_attention(attn):
    """Whether AgentSD's processor fits ``attn``: a token self-attention
    without the group/spatial norms and fused projections it would skip."""
    return (not attn.is_cross_attention
            and getattr(attn, 'group_norm', None) is None
            and getattr(attn, 'spatial_norm', None) is None
            and isinstance(getattr(attn, 'to_q', None), torch.nn.Module)
            and not getattr(attn, 'fused_projections', False))
