# Copyright (c) mmagent contributors. All rights reserved.
"""Agent attention (Han et al., "Agent Attention: On the Integration of Softmax
and Linear Attention", ECCV 2024): attention kind ``'agent'``, stage code
``'A'``, shared by every backbone family.

A small set of *agent tokens* is average-pooled from the queries. The agents
first attend to all keys/values (agent aggregation), then every query attends
to the agents (agent broadcast), so the cost is linear in the number of tokens.
Two learned position biases and a depth-wise convolution over the values
complete the module.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch.utils.checkpoint import checkpoint

from .common import (adaptive_pool_matrix, biased_attention, check_heads,
                     fp32_logits)
from .registry import register_attention

# ``an_bias``/``na_bias`` are stored on a fixed 7x7 grid whatever the stage.
BLOCK_BIAS_SIZE = 7


def interp_matrix(src: int, dst: int, like: torch.Tensor) -> torch.Tensor:
    """``(dst, src)`` weights of a 1-D bilinear resize (align_corners=False),
    taken from :func:`F.interpolate` itself so they match it exactly."""
    eye = torch.eye(src, dtype=like.dtype, device=like.device)
    weights = F.interpolate(
        eye.view(1, src, src, 1), size=(dst, 1), mode='bilinear',
        align_corners=False)
    # contiguous: torch.kron views its inputs, which a transposed (1, src)
    # matrix (an agent grid one agent high) does not allow
    return weights[0, :, :, 0].t().contiguous()


def resize_bilinear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize with ``align_corners=False``, as the official code."""
    return F.interpolate(x, size=tuple(size), mode='bilinear',
                         align_corners=False)


@register_attention('agent', code='A')
class AgentAttention(BaseModule):
    """Global agent attention over a ``(H, W)`` token map.

    Args:
        embed_dims (int): Number of channels ``C``.
        num_heads (int): Number of heads ``h``; ``d = C // h``.
        agent_num (int): Number of agents of the ImageNet model, a perfect
            square ``A = p * p`` (9, 16 or 49). It sizes the learned biases.
        agent_shape (tuple[int, int]): Downstream agent grid ``(a_h, a_w)``;
            ``Na = a_h * a_w`` agents are pooled from the queries.
        pretrain_hw (tuple[int, int]): Pretraining token grid ``(Hc, Wc)``
            of the stage (``224 / stride``). It sizes the row/column biases
            (kept as :attr:`bias_hw`).
        fused_qkv (bool, optional): ``True`` builds one ``qkv`` Linear (Swin
            layout), ``False`` builds ``q`` and ``kv`` Linears (PVT layout).
            ``None`` builds neither projection nor ``proj``: the block owns
            them (CSWin) and calls the module on its ``(q, k, v)`` triple.
            Default: True.
        qkv_bias (bool): Bias in the q/k/v projections. Default: True.
        attn_drop (float): Dropout on both attention maps. Default: 0.
        proj_drop (float): Dropout after the output projection. Default: 0.
        kernel_size (int): Kernel of the depth-wise conv on ``v``. Default: 3.
        scale (float): Logits are scaled by ``d ** scale``. Default: -0.5.
        num_extra_tokens (int): Leading tokens that are not on the map (a
            class token). They take part in both attentions through the
            official ``ac_bias`` (agent -> extra token) and ``ca_bias``
            (extra token -> agent) biases, but are neither pooled into the
            agents nor convolved by the DWC (Agent-DeiT). Default: 0.
        dwc_name (str): Attribute name of the depth-wise conv; CSWin's agent
            blocks reuse LePE's conv, officially ``get_v``. Default: 'dwc'.
        exact (bool): ``True`` follows the official operation order exactly
            (four two-step bias resizes, biases repeated per image, explicit
            matmul + softmax). ``False`` (default) is the fast path: each
            bias built by one matmul from the separable form of the resizes,
            broadcast over the batch (never repeated), reused at inference
            while small (``bias_cache_bytes``), and both softmaxes through
            :func:`torch.nn.functional.scaled_dot_product_attention` with the
            bias as float mask (written out in CPU training, see
            :func:`~.common.biased_attention`). The two agree to ~1e-6 in
            fp32.
        checkpoint_maps (bool): Fast path in training: keep neither the
            biases nor the two attention maps for backward, recompute them
            there (activation checkpointing of the attention core). Saves
            ``2 * h * Na * H * W`` floats per block (Agent-Swin-T at
            800x1344: 1.06 GB, its training peak below Swin-T's) for a
            second forward of the biases and maps (12% of the step).
            Default: False.
        init_cfg (dict, optional): Initialization config. Default: None.

    Shapes:
        - x: ``(B, E + H * W, C)`` with ``E = num_extra_tokens`` leading
          tokens, then the map in row-major order; with ``fused_qkv=None``
          a ``(q, k, v)`` triple of such tensors.
        - output: ``(B, E + H * W, C)``.
    """

    #: Inference reuses the biases of the last input size when both fit in
    #: this many bytes per module; larger ones are recomputed every call
    #: (cheap in the separable form), so the cache stays small at detection
    #: and segmentation resolutions. 0 disables the cache.
    bias_cache_bytes = 32 * 2**20

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 agent_num: int,
                 agent_shape: Sequence[int],
                 pretrain_hw: Sequence[int],
                 fused_qkv: Optional[bool] = True,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 num_extra_tokens: int = 0,
                 dwc_name: str = 'dwc',
                 exact: bool = False,
                 checkpoint_maps: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_heads(embed_dims, num_heads)
        pool_side = math.isqrt(agent_num)
        if pool_side * pool_side != agent_num:
            raise ValueError(f'agent_num must be a perfect square (the '
                             f'ImageNet agent grid), got {agent_num}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.agent_num = agent_num
        self.pool_side = pool_side
        self.agent_shape = tuple(int(s) for s in agent_shape)
        self.bias_hw = tuple(int(s) for s in pretrain_hw)
        self.scale = self.head_dims**scale
        self.fused_qkv = fused_qkv
        self.num_extra_tokens = num_extra_tokens
        self.dwc_name = dwc_name
        self.exact = exact
        self.checkpoint_maps = checkpoint_maps
        self.num_agents = self.agent_shape[0] * self.agent_shape[1]
        self._bias_cache: Optional[tuple] = None  # (key, biases)

        h, A = num_heads, agent_num
        Hc, Wc = self.bias_hw
        # Agent->token biases, then token->agent biases (official names).
        self.an_bias = nn.Parameter(
            torch.zeros(h, A, BLOCK_BIAS_SIZE, BLOCK_BIAS_SIZE))
        self.na_bias = nn.Parameter(
            torch.zeros(h, A, BLOCK_BIAS_SIZE, BLOCK_BIAS_SIZE))
        self.ah_bias = nn.Parameter(torch.zeros(1, h, A, Hc, 1))
        self.aw_bias = nn.Parameter(torch.zeros(1, h, A, 1, Wc))
        self.ha_bias = nn.Parameter(torch.zeros(1, h, Hc, 1, A))
        self.wa_bias = nn.Parameter(torch.zeros(1, h, 1, Wc, A))
        biases = [self.an_bias, self.na_bias, self.ah_bias, self.aw_bias,
                  self.ha_bias, self.wa_bias]
        if num_extra_tokens:
            E = num_extra_tokens
            self.ac_bias = nn.Parameter(torch.zeros(1, h, A, E))
            self.ca_bias = nn.Parameter(torch.zeros(1, h, E, A))
            biases += [self.ac_bias, self.ca_bias]
        for bias in biases:
            trunc_normal_(bias, std=.02)
        # names, not tensors: ``.to()`` may swap the parameter objects
        self._bias_names = tuple(
            name for name, param in self.named_parameters(recurse=False)
            if any(param is b for b in biases))

        if fused_qkv:
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        elif fused_qkv is not None:
            self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
            self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        if fused_qkv is not None:
            self.proj = nn.Linear(embed_dims, embed_dims)
            self.proj_drop = nn.Dropout(proj_drop)
        self.add_module(
            dwc_name,
            nn.Conv2d(
                embed_dims,
                embed_dims,
                kernel_size=kernel_size,
                padding=kernel_size // 2,
                groups=embed_dims))

    # ------------------------------------------------------------------
    # position biases
    # ------------------------------------------------------------------
    def _to_agent_grid(self, bias: torch.Tensor,
                       hw: Tuple[int, int]) -> torch.Tensor:
        """Map ``(h, A, H, W)`` biases onto the downstream agent grid.

        The ``A`` axis is the ImageNet ``p x p`` agent grid; it is resized
        bilinearly to ``agent_shape``. Returns ``(h, H * W, Na)``.
        """
        h = self.num_heads
        n = hw[0] * hw[1]
        p = self.pool_side
        bias = bias.reshape(h, p, p, n).permute(0, 3, 1, 2)
        bias = resize_bilinear(bias, self.agent_shape)
        return bias.reshape(h, n, -1)

    def _row_col_biases(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sum of the row and column biases, both as ``(h, A, Hc, Wc)``."""
        agent_to_token = (self.ah_bias + self.aw_bias).squeeze(0)
        token_to_agent = (self.ha_bias + self.wa_bias).squeeze(0).permute(
            0, 3, 1, 2)
        return agent_to_token, token_to_agent

    def _exact_biases(self, hw: Tuple[int, int]):
        """Official order: each term resized twice on its own, then summed.

        Returns ``(h, Na, H*W)`` and ``(h, H*W, Na)`` biases.
        """
        ahw, haw = self._row_col_biases()

        def transform(bias):
            return self._to_agent_grid(resize_bilinear(bias, hw), hw)

        agent_bias = transform(self.an_bias).transpose(1, 2) + \
            transform(ahw).transpose(1, 2)
        token_bias = transform(self.na_bias) + transform(haw)
        return agent_bias, token_bias

    def _fast_biases(self, hw: Tuple[int, int]):
        """The same biases from the separable form of the two resizes.

        Both bilinear resizes are linear maps along separate axes, so they
        commute: the agent-grid resize is applied first, on the small
        parameters, and the spatial resize is written as ``Ry @ B @ Rx^T``
        with the exact PyTorch interpolation weights. The row/column biases
        are sums of a row term and a column term, which stay 1-D through the
        resize (bilinear weights sum to one). Each bias is then produced by
        one matmul straight into the layout attention needs, without the
        ``(h, A, H, W)`` and ``(h, H*W, p, p)`` intermediates.
        """
        H, W = hw
        h = self.num_heads
        ref = self.an_bias
        agent_grid = torch.kron(
            interp_matrix(self.pool_side, self.agent_shape[0], ref),
            interp_matrix(self.pool_side, self.agent_shape[1], ref))  # Na, A
        ry7 = interp_matrix(BLOCK_BIAS_SIZE, H, ref)  # (H, 7)
        rx7 = interp_matrix(BLOCK_BIAS_SIZE, W, ref)  # (W, 7)
        ryc = interp_matrix(self.bias_hw[0], H, ref)  # (H, Hc)
        rxc = interp_matrix(self.bias_hw[1], W, ref)  # (W, Wc)
        num_agents = agent_grid.shape[0]

        # agent -> token, (h, Na, H, W)
        block = torch.einsum('ja,hars->hjrs', agent_grid, self.an_bias)
        rows = torch.einsum('ja,hay->hjy', agent_grid,
                            self.ah_bias[0, ..., 0] @ ryc.t())  # (h, Na, H)
        cols = torch.einsum('ja,hax->hjx', agent_grid,
                            self.aw_bias[0, :, :, 0] @ rxc.t())  # (h, Na, W)
        # Ry @ (block @ Rx^T + cols) + rows as one matmul over [Ry | rows].
        right = torch.cat([block @ rx7.t() + cols.unsqueeze(2),
                           cols.new_ones(h, num_agents, 1, W)], dim=2)
        left = torch.cat([ry7.expand(h, num_agents, H, BLOCK_BIAS_SIZE),
                          rows.unsqueeze(-1)], dim=3)
        agent_bias = (left @ right).reshape(h, num_agents, H * W)

        # token -> agent, (h, H, W, Na)
        block = torch.einsum('ja,hars,xs->hrxj', agent_grid, self.na_bias,
                             rx7)  # (h, 7, W, Na)
        rows = ryc @ self.ha_bias[0, :, :, 0] @ agent_grid.t()  # (h, H, Na)
        cols = rxc @ self.wa_bias[0, :, 0] @ agent_grid.t()  # (h, W, Na)
        right = (block + cols.unsqueeze(1)).reshape(h, BLOCK_BIAS_SIZE, -1)
        token_bias = (ry7 @ right).view(h, H, W, num_agents)
        token_bias.add_(rows.unsqueeze(2))  # matmul's backward needs no output
        return agent_bias, token_bias.reshape(h, H * W, num_agents)

    def _with_extra_tokens(self, agent_bias: torch.Tensor,
                           token_bias: torch.Tensor):
        """Prepend the extra tokens' biases: ``ac_bias``/``ca_bias`` live on
        the ImageNet agent grid and are resized to ``agent_shape`` like the
        others (an identity at the native grid)."""
        if not self.num_extra_tokens:
            return agent_bias, token_bias
        h, p, E = self.num_heads, self.pool_side, self.num_extra_tokens

        def on_grid(bias):  # (h, A, E) -> (h, Na, E)
            bias = bias.reshape(h, p, p, E).permute(0, 3, 1, 2)
            if tuple(self.agent_shape) != (p, p):
                bias = resize_bilinear(bias, self.agent_shape)
            return bias.reshape(h, E, -1).transpose(1, 2)

        agent_bias = torch.cat([on_grid(self.ac_bias[0]), agent_bias], dim=2)
        token_bias = torch.cat(
            [on_grid(self.ca_bias[0].transpose(1, 2)).transpose(1, 2),
             token_bias], dim=1)
        return agent_bias, token_bias

    def position_biases(self, hw: Tuple[int, int], dtype: torch.dtype):
        """The two biases for an ``(H, W)`` map: ``(1, h, Na, E + H*W)``
        added to the agent->token logits and ``(1, h, E + H*W, Na)`` added to
        the token->agent logits (``E = num_extra_tokens``)."""
        if self.exact:
            agent_bias, token_bias = self._with_extra_tokens(
                *self._exact_biases(hw))
            return agent_bias.unsqueeze(0), token_bias.unsqueeze(0)
        # Biases only depend on the parameters and (H, W): at inference the
        # last pair is reused while it is small (see ``bias_cache_bytes``).
        # The key holds the parameters' versions and storages, so an
        # optimizer step, a loaded checkpoint or ``.to()`` invalidates it.
        params = tuple(getattr(self, name) for name in self._bias_names)
        nbytes = 2 * self.num_heads * self.num_agents * (
            hw[0] * hw[1] + self.num_extra_tokens) * \
            torch.finfo(dtype).bits // 8
        # Not while torch.compile or torch.export traces: the graph
        # computes them itself, a cache mutated between calls fails its
        # guards (recompiles), and a size test pins a free input size.
        cacheable = not torch.compiler.is_compiling() and not any(
            isinstance(s, torch.SymInt) for s in hw) and not (
            torch.is_grad_enabled() and any(p.requires_grad for p in params)
        ) and nbytes <= self.bias_cache_bytes
        if cacheable:
            key = (hw, dtype, tuple((p._version, p.data_ptr(), p.device)
                                    for p in params))
            if self._bias_cache is not None and self._bias_cache[0] == key:
                return self._bias_cache[1]
        agent_bias, token_bias = self._with_extra_tokens(
            *self._fast_biases(hw))
        biases = (agent_bias.unsqueeze(0).to(dtype),
                  token_bias.unsqueeze(0).to(dtype))
        self._bias_cache = (key, biases) if cacheable else None
        return biases

    # ------------------------------------------------------------------
    def _project(self, x: torch.Tensor):
        b, n, c = x.shape
        if self.fused_qkv:
            # unbind: one gradient copy in backward, where indexing makes
            # a zero-filled full-size gradient per index
            return self.qkv(x).reshape(b, n, 3, c).unbind(2)
        return (self.q(x), *self.kv(x).reshape(b, n, 2, c).unbind(2))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.num_heads, self.head_dims).permute(
            0, 2, 1, 3)

    def forward(self, x, hw_shape: Sequence[int]) -> torch.Tensor:
        """Args: x ``(B, E + H*W, C)`` (or the ``(q, k, v)`` triple when the
        block projects), hw_shape ``(H, W)``. Returns ``(B, E + H*W, C)``,
        before the block's projection when it owns it."""
        if self.fused_qkv is None:
            q, k, v = x
            return self.attend(q, k, v, hw_shape)
        out = self.attend(*self._project(x), hw_shape)
        return self.proj_drop(self.proj(out))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               hw_shape: Sequence[int]) -> torch.Tensor:
        """Agent attention of projected ``(B, E + H*W, C)`` queries, keys
        and values, plus the DWC of the values' map."""
        b, n, c = q.shape
        hw = (hw_shape[0], hw_shape[1])
        agents = self.pool_agents(q, hw)
        q, k, v, agents = (self._split_heads(t) for t in (q, k, v, agents))

        if self.exact:
            agent_bias, token_bias = self.position_biases(hw, q.dtype)
            b_rep = (b, 1, 1, 1)  # the official code materialises per image
            with fp32_logits(agents, k, q) as (agents_, k_, q_):
                agent_attn = (agents_ * self.scale) @ k_.transpose(-2, -1)
                agent_attn = (agent_attn +
                              agent_bias.repeat(b_rep)).softmax(-1)
                q_attn = (q_ * self.scale) @ agents_.transpose(-2, -1)
                q_attn = (q_attn + token_bias.repeat(b_rep)).softmax(-1)
            agent_v = self.attn_drop(agent_attn).to(v.dtype) @ v
            out = self.attn_drop(q_attn).to(agent_v.dtype) @ agent_v
        elif (self.checkpoint_maps and self.training
              and torch.is_grad_enabled()):
            # inputs saved: q, k, v and the agents, never a map
            out = checkpoint(self._agent_softmaxes, q, k, v, agents, hw,
                             use_reentrant=False)
        else:
            out = self._agent_softmaxes(q, k, v, agents, hw)
        return self.add_dwc(out, v, hw)

    def _agent_softmaxes(self, q: torch.Tensor, k: torch.Tensor,
                         v: torch.Tensor, agents: torch.Tensor,
                         hw: Tuple[int, int]) -> torch.Tensor:
        """Fast path: agent aggregation then broadcast, per head,
        ``(B, h, E + H*W, d)`` -> ``(B, h, E + H*W, d)``."""
        agent_bias, token_bias = self.position_biases(hw, q.dtype)
        p = self.attn_drop.p if self.training else 0.
        agent_v = biased_attention(agents, k, v, agent_bias, self.scale, p)
        return biased_attention(q, agents, agent_v, token_bias, self.scale,
                                p)

    def pool_agents(self, q: torch.Tensor,
                    hw: Tuple[int, int]) -> torch.Tensor:
        """The agents: adaptive average pooling of the (unscaled) map
        queries ``(B, E + H*W, C)`` -> ``(B, Na, C)``."""
        b, _, c = q.shape
        E = self.num_extra_tokens
        if self.exact:
            agents = F.adaptive_avg_pool2d(
                q[:, E:].reshape(b, *hw, c).permute(0, 3, 1, 2),
                self.agent_shape)
            return agents.reshape(b, c, -1).permute(0, 2, 1)
        # The same averages as two matmuls on the token layout (no permute
        # to channels-first and back; a cheaper backward than the pooling
        # kernel's): columns to a_w, then rows to a_h.
        (H, W), (a_h, a_w) = hw, self.agent_shape
        cols = torch.matmul(adaptive_pool_matrix(W, a_w, q),
                            q[:, E:].reshape(b * H, W, c))  # (bH, a_w, C)
        agents = torch.matmul(adaptive_pool_matrix(H, a_h, q),
                              cols.reshape(b, H, a_w * c))  # (b, a_h, .)
        return agents.reshape(b, a_h * a_w, c)

    def add_dwc(self, out: torch.Tensor, v: torch.Tensor,
                hw: Tuple[int, int]) -> torch.Tensor:
        """Per-head attention output ``(B, h, E + H*W, d)`` merged to
        ``(B, E + H*W, C)``, plus the DWC of the values' map (per-head
        ``v``, the extra tokens excepted)."""
        b, _, n, _ = out.shape
        c = self.embed_dims
        E = self.num_extra_tokens
        out = out.transpose(1, 2).reshape(b, n, c)
        v_map = v[:, :, E:].transpose(1, 2).reshape(b, *hw, c).permute(
            0, 3, 1, 2)
        dwc = getattr(self, self.dwc_name)(v_map).permute(0, 2, 3, 1)
        if not E:
            return out + dwc.reshape(b, n, c)
        return torch.cat([out[:, :E], out[:, E:] + dwc.reshape(b, -1, c)],
                         dim=1)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'agent_num={self.agent_num}, agent_shape={self.agent_shape}, '
                f'bias_hw={self.bias_hw}, '
                f'num_extra_tokens={self.num_extra_tokens}, '
                f'exact={self.exact}, checkpoint_maps={self.checkpoint_maps}')
