# Copyright (c) mmagent contributors. All rights reserved.
"""Token merging for Stable Diffusion (ToMe for SD), with AgentSD's agents.

Bipartite soft matching on a ``(h, w)`` token grid, written from its
definition (Bolya & Hoffman, "Token Merging for Fast Stable Diffusion"):

1. Partition. The grid is cut into ``sy x sx`` cells; one token of each
   whole cell is a *destination* (its top-left token, or a random one), every
   other token (leftover rows and columns included) is a *source*.
2. Matching. Each source finds its most similar destination by the cosine
   similarity of the metric tokens; the sources are ranked by that
   similarity.
3. Merging ``r`` tokens. The ``r`` best-matched sources are averaged into
   their destinations; the result is ``[unmerged sources, destinations]``
   with ``N - r`` tokens.
4. Unmerging. Every token takes the value of the merged token it went into.

AgentSD merges twice over the same partition and ranking: ``r`` tokens for
the features that attention runs on, and ``agent_r >= r`` for the coarser
set that becomes the agent tokens.
"""
import math

import torch


def destination_mask(h, w, sx, sy, generator=None, device=None):
    """Boolean ``(h * w,)`` mask of the destination tokens, raster order.

    One destination per whole ``sy x sx`` cell: the cell's top-left token
    when ``generator`` is None, else one drawn from ``generator`` (a CPU
    generator, so that results do not depend on the device).
    """
    cells_h, cells_w = h // sy, w // sx
    if generator is None:
        picks = torch.zeros(cells_h, cells_w, 1, dtype=torch.long)
    else:
        picks = torch.randint(sy * sx, (cells_h, cells_w, 1),
                              generator=generator)
    cells = torch.zeros(cells_h, cells_w, sy * sx, dtype=torch.bool)
    cells.scatter_(2, picks, True)
    grid = cells.view(cells_h, cells_w, sy, sx).permute(0, 2, 1, 3)
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[:cells_h * sy, :cells_w * sx] = grid.flatten(0, 1).flatten(1)
    return mask.flatten().to(device)


def _partition(h, w, sx, sy, generator, device):
    """Destination and source indices, found on the CPU (no device sync
    in the middle of a UNet step), then moved to ``device``."""
    dst = destination_mask(h, w, sx, sy, generator)
    return (dst.nonzero().squeeze(1).to(device),
            (~dst).nonzero().squeeze(1).to(device))


class BipartiteMatching:
    """One bipartite soft matching of ``metric`` tokens, reusable.

    Args:
        metric (Tensor): ``(B, N, C)`` tokens whose cosine similarity
            decides the matching (AgentSD: the block's input).
        h, w (int): the token grid, ``h * w == N``.
        sx, sy (int): destination stride along x and y.
        r (int): tokens removed for the features (capped at the number of
            sources).
        agent_r (int): tokens removed for the agents (capped likewise);
            agents exist only when ``agent_r > r`` and they number less than
            half the features, the AgentSD rule (:attr:`has_agents`).
        generator (torch.Generator, optional): picks the destinations at
            random; None picks each cell's top-left token.
    """

    def __init__(self, metric, h, w, sx, sy, r, agent_r=0, generator=None):
        batch, num_tokens, _ = metric.shape
        if h * w != num_tokens:
            raise ValueError(f'a {h}x{w} grid has {h * w} tokens, the '
                             f'metric has {num_tokens}')
        if h < sy or w < sx:
            raise ValueError(f'a {h}x{w} grid has no whole {sy}x{sx} cell '
                             'to take a destination from')
        self.num_tokens = num_tokens
        self.dst_idx, self.src_idx = _partition(h, w, sx, sy, generator,
                                                metric.device)
        num_src = self.src_idx.numel()
        self.r = max(0, min(int(r), num_src))
        self.agent_r = max(0, min(int(agent_r), num_src))
        with torch.no_grad():
            unit = metric / metric.norm(dim=-1, keepdim=True)
            scores = unit[:, self.src_idx] @ unit[:, self.dst_idx].transpose(
                1, 2)
            best, self.best_dst = scores.max(dim=-1)
            # (B, num_src): sources from the most to the least similar.
            self.rank = best.argsort(dim=-1, descending=True)
        self.batch = batch

    @property
    def num_features(self):
        return self.num_tokens - self.r

    @property
    def num_agents(self):
        return self.num_tokens - self.agent_r

    @property
    def has_agents(self):
        """AgentSD uses agents only when ``2 * agents < features``."""
        return (self.agent_r > self.r
                and 2 * self.num_agents < self.num_features)

    def _split(self, x):
        return x[:, self.src_idx], x[:, self.dst_idx]

    def _merge(self, parts, r):
        src, dst = parts
        channels = src.shape[-1]
        kept = self.rank[:, r:, None].expand(-1, -1, channels)
        moving = self.rank[:, :r, None].expand(-1, -1, channels)
        target = self.best_dst.gather(1, self.rank[:, :r])
        dst = dst.scatter_reduce(
            1, target[..., None].expand(-1, -1, channels),
            src.gather(1, moving), reduce='mean', include_self=True)
        return torch.cat([src.gather(1, kept), dst], dim=1)

    def merge(self, x):
        """``(B, N, C) -> (B, N - r, C)``: the features."""
        return self._merge(self._split(x), self.r)

    def agents(self, x):
        """``(B, N, C) -> (B, N - agent_r, C)``: the coarser agent set."""
        return self._merge(self._split(x), self.agent_r)

    def merge_with_agents(self, x):
        """:meth:`merge` and :meth:`agents` of ``x``, splitting it once."""
        parts = self._split(x)
        return self._merge(parts, self.r), self._merge(parts, self.agent_r)

    def unmerge(self, y):
        """``(B, N - r, C) -> (B, N, C)``: each token gets its merged value."""
        num_kept = self.src_idx.numel() - self.r
        kept, dst = y[:, :num_kept], y[:, num_kept:]
        channels = y.shape[-1]
        target = self.best_dst.gather(1, self.rank[:, :self.r])
        src = y.new_empty(y.shape[0], self.src_idx.numel(), channels)
        src.scatter_(1, self.rank[:, self.r:, None].expand(-1, -1, channels),
                     kept)
        src.scatter_(1, self.rank[:, :self.r, None].expand(-1, -1, channels),
                     dst.gather(1, target[..., None].expand(-1, -1, channels)))
        out = y.new_empty(y.shape[0], self.num_tokens, channels)
        out[:, self.dst_idx] = dst
        out[:, self.src_idx] = src
        return out


def token_grid(latent_hw, num_tokens):
    """The ``(downsample, h, w)`` of a block's tokens in a UNet.

    ``latent_hw`` is the UNet input's size; a block at downsample ``s`` sees
    ``ceil(H / s) x ceil(W / s)`` tokens (the UNet's convolutions round up).
    """
    height, width = latent_hw
    downsample = max(1, math.ceil(math.sqrt((height * width) // num_tokens)))
    return (downsample, math.ceil(height / downsample),
            math.ceil(width / downsample))
