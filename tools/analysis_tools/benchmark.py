# Copyright (c) mmagent contributors. All rights reserved.
"""Whole-model speed (images/s) of a detector, segmentor or classifier
config, mmdet-style: warm-up, then timed steps on synthetic images (no
dataset needed).

- ``--mode inference`` (default): ``model.test_step`` on ``--shape``
  images.
- ``--mode train``: ``model.train_step`` (data preprocessor, forward,
  losses, backward, the config's optimizer step) on batches that the
  config's own train pipeline made from synthetic ``--shape`` images with
  synthetic annotations (boxes and polygon masks, label maps, class
  labels); the pipeline runs outside the timed step, as in the data
  loader's workers.

``--baseline CONFIG`` times a second config (any OpenMMLab config, e.g.
``mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py``) and
``--compare-exact`` the same model with ``backbone.exact=True``, in the
same round-robin loop, and prints the speed ratios.

Examples::

    python tools/analysis_tools/benchmark.py \\
        configs/det/mask-rcnn_agent-swin-t_fpn_1x_coco.py --mode train \\
        --baseline mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py
    python tools/analysis_tools/benchmark.py \\
        configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py --compare-exact
"""
import argparse
import copy
import itertools
import json
import statistics
import tempfile
import time
from collections import OrderedDict

import torch
from mmengine.config import DictAction

import mmagent  # noqa: F401
from mmagent.tasks import get_task
from mmagent.utils.checkpoint import TrustCheckpointAction
from mmagent.utils.config import load_config
from mmagent.utils.cpu_malloc import configure_cpu_malloc
from mmagent.utils.data_check import leaf_datasets


def parse_args():
    parser = argparse.ArgumentParser(
        description='Inference or training speed of a config on synthetic '
        'images')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--checkpoint', help='optional checkpoint to load')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    parser.add_argument('--mode', choices=['inference', 'train'],
                        default='inference')
    parser.add_argument('--baseline', metavar='CONFIG',
                        help='another config timed side by side')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1344],
                        metavar=('H', 'W'), help='input image size')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the figures to FILE')
    parser.add_argument('--compare-exact', action='store_true',
                        help='also time backbone.exact=True side by side')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args()


def build_model(cfg, checkpoint, device):
    from mmengine.registry import DefaultScope
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # as the Runner does
        model_cfg.setdefault('data_preprocessor',
                             copy.deepcopy(cfg.data_preprocessor))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model = get_task(cfg).models_registry().build(model_cfg)
    if checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device)


class Subject:
    """One model timed by the loop: its task, data and step."""

    def __init__(self, cfg, model, args, root):
        self.model, self.args = model, args
        self.task = get_task(cfg)
        height, width = args.shape
        if args.mode == 'inference':
            self.model.eval()
            inputs = [torch.randint(0, 256, (3, height, width),
                                    dtype=torch.uint8)
                      for _ in range(args.batch_size)]
            self.data = dict(inputs=inputs, data_samples=[
                self.task.data_sample(height, width) for _ in inputs])
            return
        from mmengine.dataset import Compose, pseudo_collate
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import DefaultScope
        from mmengine.runner import set_random_seed
        self.model.train()
        with DefaultScope.overwrite_default_scope(self.task.scope):
            dataset = next(leaf_datasets(cfg.train_dataloader.dataset))
            pipeline = Compose(dataset['pipeline'])
            self.optim_wrapper = build_optim_wrapper(self.model,
                                                     cfg.optim_wrapper)
        records = [self.task.synthetic_training_record(root, height, width,
                                                       i)
                   for i in range(args.batch_size)]
        batches = itertools.count()

        def next_batch():
            # the n-th batch of every config draws the same augmentations
            # (identical pipelines give identical sizes and crops)
            set_random_seed(next(batches))
            return pseudo_collate([pipeline(copy.deepcopy(r))
                                   for r in records])

        self.next_batch = next_batch
        self.data = self.next_batch()

    def step(self):
        """Seconds of one timed step; the next training batch (its own
        augmentations) is made afterwards, outside the timing."""
        device = torch.device(self.args.device)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        if self.args.mode == 'inference':
            with torch.no_grad():
                self.model.test_step(copy.deepcopy(self.data))
        else:
            self.model.train_step(self.data, self.optim_wrapper)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        if self.args.mode == 'train':
            self.data = self.next_batch()
        return seconds


def main():
    args = parse_args()
    try:  # as tools/train.py and tools/test.py
        configure_cpu_malloc()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    cfg = load_config(args.config, args.cfg_options, init_scope=True)
    device = torch.device(args.device)
    configs = OrderedDict(fast=cfg)
    if args.compare_exact:
        if 'backbone' not in cfg.model:
            raise SystemExit('--compare-exact needs a model with a backbone')
        configs['exact'] = copy.deepcopy(cfg)
        configs['exact'].model.backbone.exact = True
    if args.baseline:
        configs['baseline'] = load_config(args.baseline)
    models = OrderedDict(
        (name, build_model(c, args.checkpoint if name != 'baseline' else
                           None, device)) for name, c in configs.items())
    if args.compare_exact:
        models['exact'].load_state_dict(models['fast'].state_dict())

    with tempfile.TemporaryDirectory() as root:
        subjects = OrderedDict((name, Subject(configs[name], model, args,
                                              root))
                               for name, model in models.items())
        for _ in range(args.warmup):
            for subject in subjects.values():
                subject.step()
        times = {name: [] for name in subjects}
        for _ in range(args.repeats):
            for name, subject in subjects.items():  # round-robin
                times[name].append(subject.step())
    where = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'CPU, {torch.get_num_threads()} threads')
    height, width = args.shape
    print(f'{args.mode}: {height}x{width} images, batch {args.batch_size}, '
          f'{where}, median of {args.repeats}')
    seconds = {name: statistics.median(t) for name, t in times.items()}
    for name, value in seconds.items():
        path = args.baseline if name == 'baseline' else args.config
        print(f'  {name:<8} {value * 1000:8.0f} ms/batch  '
              f'{args.batch_size / value:6.2f} img/s  {path}')
    for other in ('exact', 'baseline'):
        if other in seconds:
            print(f'  {other}/fast time ratio: '
                  f'{seconds[other] / seconds["fast"]:.2f}x')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(
                tool='benchmark.py', device=where, torch=torch.__version__,
                mode=args.mode, shape=[height, width],
                batch=args.batch_size, repeats=args.repeats,
                results=[dict(name=name, seconds=value,
                              config=(args.baseline if name == 'baseline'
                                      else args.config),
                              images_per_second=args.batch_size / value)
                         for name, value in seconds.items()]), f, indent=1)


if __name__ == '__main__':
    main()
