# Copyright (c) mmagent contributors. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share: their common
arguments, reading the config, and building the runner."""
import argparse
import os

from mmengine.config import Config, DictAction

from ..utils.checkpoint import TrustCheckpointAction
from ..utils.config import load_config, resolve_work_dir
from ..utils.cpu_malloc import configure_cpu_malloc
from ..utils.distributed import prepare_distributed
from .compiling import compile_backbone


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--trust-checkpoint``, ``--compile``,
    ``--cfg-options``, ``--launcher``, ``--preflight`` and
    ``--local-rank``."""
    parser.add_argument('--work-dir',
                        help='the folder for logs, checkpoints and metrics')
    parser.add_argument('--trust-checkpoint', action=TrustCheckpointAction)
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile the backbone (static shapes, the config\'s '
        'compile options on top): the first step at each new input size '
        'compiles')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--preflight', action='store_true',
        help='only check the config, checkpoint, data and model arguments, '
        'then exit (dist_train.sh / dist_test.sh run this once before '
        'starting the workers)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse; ``LOCAL_RANK`` from ``--local-rank`` where the launcher did
    not set it (``torch.distributed.launch``)."""
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_tool_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options``, ``--launcher`` and the work dir
    applied (after switching on the CPU allocator's reuse of freed memory,
    :mod:`mmagent.utils.cpu_malloc`)."""
    try:
        configure_cpu_malloc()
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    resolve_work_dir(cfg, args.work_dir, args.config)
    return cfg


def build_runner(cfg: Config, compile_options=None):
    """Join the process group (:func:`prepare_distributed`), build the
    config's runner (``runner_type`` or mmengine's ``Runner``) and, with
    ``--compile``, compile its backbone."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    prepare_distributed(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if compile_options is not None:
        compile_backbone(runner.model, compile_options, runner.logger)
    return runner
