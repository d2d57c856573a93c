# Copyright (c) mmagent contributors. All rights reserved.
"""Where an Agent-Swin (or, with ``--kind focused``, a FLatten-Swin) block's
attention spends its time, part by part, next to mmdet's window attention
of the same stage: each part timed alone (forward, or forward + backward
with ``--mode train``) at the token maps an ``--shape`` input gives, median
of the repeats.

Agent attention (stages 1-3): the two position biases, the two biased
softmax attentions (agent aggregation and broadcast), the agent pooling,
the DWC, the q/k/v and output projections, and the whole module (the rest
is copies and reshapes). Focused linear attention (FLatten-Swin's global
stages 1-2): the focusing function of q and k, the linear products
(``k^T v``, the normaliser, ``q (k^T v)``), the 5x5 DWC, the projections
and the whole module.

Example::

    python tools/analysis_tools/profile_attention.py --mode train
    python tools/analysis_tools/profile_attention.py --mode train \
        --kind focused
"""
import argparse
import statistics
import time

import torch

import mmagent  # noqa: F401
from mmagent import AgentSwinTransformer
from mmagent.models.backbones import FLattenSwinTransformer
from mmagent.models.layers.attention.common import biased_attention
from mmagent.utils.cpu_malloc import MODES, configure_cpu_malloc


def parse_args():
    parser = argparse.ArgumentParser(
        description='Time the parts of Agent-Swin-T attention per stage')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1344],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--mode', choices=['inference', 'train'],
                        default='train')
    parser.add_argument('--kind', choices=['agent', 'focused'],
                        default='agent')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--malloc', choices=MODES, default='cached')
    return parser.parse_args()


def timer(repeats, train):

    def measure(fn):
        def run():
            out = fn()
            if train:
                out = out if isinstance(out, (list, tuple)) else [out]
                sum(o.sum() for o in out).backward()

        with torch.set_grad_enabled(train):
            run()  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    return measure


def profile_focused(args, measure, swin, H, W):
    """The FLatten-Swin-T table (see the module docstring)."""
    train = args.mode == 'train'
    model = FLattenSwinTransformer(arch='t', drop_path_rate=0.).train(train)
    print('| stage | map | focused linear attention | focusing | linear '
          'products | DWC | projections | Swin window attention |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for stage in range(2):
        attn = model.layers[stage].blocks[0].attn
        window = swin.stages[stage].blocks[0].attn
        C, hw, N = attn.embed_dims, (H, W), H * W
        h, d = attn.num_heads, attn.head_dims
        x = torch.randn(1, N, C, requires_grad=train)
        q, k = (torch.randn(1, N, C, requires_grad=train) for _ in range(2))
        qf, kf, vf = (torch.rand(1, h, N, d, requires_grad=train)
                      for _ in range(3))
        v_map = torch.randn(h, d, H, W, requires_grad=train)

        def products():
            z = 1 / (qf @ kf.mean(dim=-2, keepdim=True).transpose(-2, -1) +
                     1e-6)
            return (qf @ ((kf.transpose(-2, -1) @ vf) / N)) * z

        row = [
            measure(lambda: attn(x, hw)),
            measure(lambda: [attn.focus(q), attn.focus(k)]),
            measure(products),
            measure(lambda: attn.dwc(v_map)),
            measure(lambda: attn.proj(attn.qkv(x)[..., :C])),
            measure(lambda: window(x, hw)),
        ]
        print(f'| {stage + 1} | {H}x{W}, {h} heads | ' +
              ' | '.join(f'{t:.0f}' for t in row) + ' |')
        H, W = -(-H // 2), -(-W // 2)


def main():
    args = parse_args()
    malloc = configure_cpu_malloc(args.malloc)
    from mmdet.models.backbones import SwinTransformer
    train = args.mode == 'train'
    agent = AgentSwinTransformer(arch='t', drop_path_rate=0.).train(train)
    swin = SwinTransformer(drop_path_rate=0.)
    swin.train(train)
    measure = timer(args.repeats, train)
    H, W = (-(-s // 4) for s in args.shape)  # stride-4 tokens, padded
    print(f'{args.mode}, {args.shape[0]}x{args.shape[1]} input, CPU '
          f'{torch.get_num_threads()} threads, malloc {malloc}, median of '
          f'{args.repeats}, ms')
    if args.kind == 'focused':
        return profile_focused(args, measure, swin, H, W)
    print('| stage | map | agent attention | biases | two attentions | '
          'pooling | DWC | projections | Swin window attention |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for stage in range(3):
        attn = agent.layers[stage].blocks[0].attn
        window = swin.stages[stage].blocks[0].attn
        C, hw = attn.embed_dims, (H, W)
        h, d, n = attn.num_heads, attn.head_dims, attn.num_agents
        x = torch.randn(1, H * W, C, requires_grad=train)
        q, k, v = (torch.randn(1, h, H * W, d, requires_grad=train)
                   for _ in range(3))
        agents = torch.randn(1, h, n, d, requires_grad=train)
        agent_v = torch.randn(1, h, n, d, requires_grad=train)
        with torch.set_grad_enabled(train):
            agent_bias, token_bias = (
                b.detach().requires_grad_(train)
                for b in attn.position_biases(hw, x.dtype))
        row = [
            measure(lambda: attn(x, hw)),
            measure(lambda: attn.position_biases(hw, x.dtype)),
            measure(lambda: [
                biased_attention(agents, k, v, agent_bias, attn.scale),
                biased_attention(q, agents, agent_v, token_bias,
                                 attn.scale)]),
            measure(lambda: attn.pool_agents(x, hw)),
            measure(lambda: attn.add_dwc(q, v, hw)),
            measure(lambda: attn.proj(attn.qkv(x)[..., :C])),
            measure(lambda: window(x, hw)),
        ]
        print(f'| {stage + 1} | {H}x{W}, {h} heads, {n} agents | ' +
              ' | '.join(f'{t:.0f}' for t in row) + ' |')
        H, W = -(-H // 2), -(-W // 2)


if __name__ == '__main__':
    main()
