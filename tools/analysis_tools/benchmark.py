# Copyright (c) mmagent contributors. All rights reserved.
"""End-to-end inference speed (images/s) of a detector, segmentor or
classifier config, mmdet-style: warm-up, then timed ``model.test_step`` on
synthetic images of ``--shape`` (no dataset needed).

With ``--compare-exact`` the same model with ``backbone.exact=True`` is timed
in the same round-robin loop and the speed ratio is printed.

Example::

    python tools/analysis_tools/benchmark.py \
        configs/det/agent_pvt_maskrcnn.py --shape 800 1344 --compare-exact
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.config import DictAction

import mmagent  # noqa: F401
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import TrustCheckpointAction
from mmagent.utils.config import load_config
from mmagent.utils.cpu_malloc import configure_cpu_malloc


def parse_args():
    parser = argparse.ArgumentParser(
        description='Inference speed of a config on synthetic images')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--checkpoint', help='optional checkpoint to load')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1344],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--compare-exact', action='store_true',
                        help='also time backbone.exact=True side by side')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args()


def build_model(cfg, checkpoint, device):
    from mmengine.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval()


def main():
    args = parse_args()
    try:  # as tools/train.py and tools/test.py
        configure_cpu_malloc()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    task = get_task(cfg)
    device = torch.device(args.device)
    models = {'fast': build_model(cfg, args.checkpoint, device)}
    if args.compare_exact:
        if 'backbone' not in cfg.model:
            raise SystemExit('--compare-exact needs a model with a backbone')
        exact_cfg = copy.deepcopy(cfg)
        exact_cfg.model.backbone.exact = True
        models['exact'] = build_model(exact_cfg, args.checkpoint, device)
        models['exact'].load_state_dict(models['fast'].state_dict())
    height, width = args.shape
    inputs = [
        torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
        for _ in range(args.batch_size)
    ]
    data = dict(inputs=inputs,
                data_samples=[task.data_sample(height, width)
                              for _ in inputs])

    def step(model):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with torch.no_grad():
            model.test_step(copy.deepcopy(data))
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for _ in range(args.warmup):
        for model in models.values():
            step(model)
    times = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():  # round-robin
            times[name].append(step(model))
    where = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'CPU, {torch.get_num_threads()} threads')
    print(f'{args.config}: {height}x{width}, batch {args.batch_size}, '
          f'{where}, median of {args.repeats}')
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f'  {name:<6} {seconds * 1000:8.0f} ms/batch  '
              f'{args.batch_size / seconds:6.2f} img/s')
    if args.compare_exact:
        ratio = statistics.median(times['exact']) / statistics.median(
            times['fast'])
        print(f'  exact/fast time ratio: {ratio:.2f}x')


if __name__ == '__main__':
    main()
