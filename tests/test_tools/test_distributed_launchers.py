"""Distributed launchers on CPU processes (gloo): every way of starting the
same 2-process run of the segmentation demo ends with the same weights,
tensor for tensor: one torchrun (the reference); rank 1 killed with
SIGKILL and the group restarted by torchrun, resuming from its last
checkpoint (the 2-process case of the resume tests); two "nodes" (two
dist_train.sh launches with NNODES=2); Slurm (stand-in srun and scontrol
that set the SLURM_* variables and expand the node list as Slurm does).
Testing over two nodes or Slurm gives the single-process metrics."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, run
from filelock import FileLock
from training_runs import training_state_differences, write_config

# multi-process training runs: `make test-fast` skips them
pytestmark = pytest.mark.slow

STAND_INS = osp.join(REPO_ROOT, 'tests', 'slurm_stand_in')
KILL = """
    custom_imports = dict(imports=['mmagent', 'crash_hooks'],
                          allow_failed_imports=False)
    custom_hooks = [dict(type='KillRank', rank=1, iteration=5)]
"""


def launcher_env(port, **extra):
    return {'PYTHONPATH': osp.join(REPO_ROOT, 'tests'), 'PORT': str(port),
            'MASTER_PORT': str(port), 'PYTHON': sys.executable,
            'OMP_NUM_THREADS': '1', **extra}


def dist_train(config, work_dir, port, *args, check=True):
    return run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                work_dir, *args], check=check, env=launcher_env(port),
               timeout=600)


def config(tmp_path, name, tiny_ade, extra=''):
    # one loader worker per process: two processes on two cores
    return write_config(tmp_path / f'{name}.py', tiny_ade, extra, workers=1)


@pytest.fixture(scope='session')
def reference(tiny_ade, tmp_path_factory):
    """The uninterrupted 2-process run: ``(config, final checkpoint)``, made
    once for all pytest-xdist workers."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):  # this session's workers
        root = root.parent
    shared = root / 'ddp_reference'
    shared.mkdir(exist_ok=True)
    final = shared / 'work' / 'iter_8.pth'
    cfg = str(shared / 'plain.py')
    with FileLock(str(shared / 'lock')):
        if not final.exists():
            config(shared, 'plain', tiny_ade)
            dist_train(cfg, str(shared / 'work'), 29541)
    return cfg, str(final)


def metrics(output):
    """The test metrics line's figures."""
    found = re.findall(r'aAcc: [\d.]+\s+mIoU: [\d.]+\s+mAcc: [\d.]+', output)
    assert found, output[-2000:]
    return found[-1]


def test_elastic_restart_after_a_dead_worker_equals_uninterrupted(
        reference, tiny_ade, tmp_path):
    """``--max-restarts 1``: rank 1 is killed (SIGKILL) after iteration 5,
    torchrun restarts both processes, which resume from iter_4 by
    themselves (``--resume`` on a restart: the same path as a user's
    ``dist_train.sh --resume`` after a crash)."""
    _, expected = reference
    crashing = config(tmp_path, 'crash', tiny_ade, KILL)
    work_dir = str(tmp_path / 'work')
    result = dist_train(crashing, work_dir, 29544, '--max-restarts', '1')
    out = result.stdout + result.stderr
    assert 'failed (exitcode: -9) local_rank: 1' in out  # torchrun's agent
    assert 'Advance dataloader 4 steps' in out  # resumed, not from scratch
    assert training_state_differences(
        expected, osp.join(work_dir, 'iter_8.pth')) == []


@pytest.mark.parametrize('args,env,message', [
    (['--max-restarts', 'x'], {}, "--max-restarts takes a number, got 'x'"),
    (['--max-restarts'], {}, '--max-restarts takes a number'),
    (['--max-restarts=2'], {'NNODES': '2'}, '--max-restarts runs on one '
     'machine (NNODES=1), got NNODES=2'),
], ids=['not-a-number', 'missing', 'several-machines'])
def test_max_restarts_is_checked_before_anything_starts(tmp_path, args, env,
                                                        message):
    result = run(['bash', 'tools/dist_train.sh', str(tmp_path / 'cfg.py'),
                  '2', *args], check=False, timeout=60,
                 env={**launcher_env(29545), **env})
    assert result.returncode == 1
    assert message in result.stderr


def launch_two_nodes(tool_args, port):
    """``tools/dist_*.sh`` on "two nodes" of one process each (NNODES=2,
    NODE_RANK 0 and 1, the master on localhost), as on two machines."""
    nodes = []
    for node_rank in (0, 1):
        env = {**os.environ, **launcher_env(port), 'NNODES': '2',
               'NODE_RANK': str(node_rank), 'MASTER_ADDR': '127.0.0.1'}
        nodes.append(subprocess.Popen(
            ['bash', *tool_args], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    for node, out in zip(nodes, outputs):
        assert node.returncode == 0, out[-3000:]
    return outputs


@pytest.fixture(scope='session')
def single_process_metrics(reference):
    """``tools/test.py`` of the reference checkpoint in one process."""
    cfg, checkpoint = reference
    work_dir = osp.join(osp.dirname(checkpoint), 'single')
    with FileLock(work_dir + '.lock'):
        if not osp.exists(osp.join(work_dir, 'metrics.txt')):
            result = run([sys.executable, 'tools/test.py', cfg, checkpoint,
                          '--work-dir', work_dir])
            with open(osp.join(work_dir, 'metrics.txt'), 'w') as f:
                f.write(metrics(result.stdout + result.stderr))
        with open(osp.join(work_dir, 'metrics.txt')) as f:
            return f.read()


def test_two_nodes_train_and_test_like_one(reference, single_process_metrics,
                                           tmp_path):
    plain, expected = reference
    work_dir = str(tmp_path / 'work')
    launch_two_nodes(['tools/dist_train.sh', plain, '1', '--work-dir',
                      work_dir], 29546)
    assert training_state_differences(
        expected, osp.join(work_dir, 'iter_8.pth')) == []

    outputs = launch_two_nodes(['tools/dist_test.sh', plain, expected, '1',
                                '--work-dir', str(tmp_path / 'test')],
                               29547)
    assert metrics(outputs[0]) == single_process_metrics


def test_slurm_train_and_test_on_two_nodes(reference, single_process_metrics,
                                           tmp_path):
    """``slurm_train.sh`` / ``slurm_test.sh`` with GPUS=2, GPUS_PER_NODE=1:
    two tasks on two "nodes", mmagent reading the SLURM_* variables and the
    node list (``scontrol show hostname``) as mmengine's launcher does."""
    plain, expected = reference
    env = launcher_env(29548, GPUS='2', GPUS_PER_NODE='1', CPUS_PER_TASK='1',
                       PATH=STAND_INS + os.pathsep + os.environ['PATH'])
    work_dir = str(tmp_path / 'work')
    result = run(['bash', 'tools/slurm_train.sh', 'cpu', 'resume-test',
                  plain, work_dir], env=env, timeout=600)
    out = result.stdout + result.stderr
    assert 'Distributed launcher: slurm' in out
    assert 'GPU number: 2' in out  # mmengine's name for the world size
    assert training_state_differences(
        expected, osp.join(work_dir, 'iter_8.pth')) == []

    env['MASTER_PORT'] = '29549'
    result = run(['bash', 'tools/slurm_test.sh', 'cpu', 'resume-test', plain,
                  expected, '--work-dir', str(tmp_path / 'test')], env=env,
                 timeout=600)
    assert metrics(result.stdout + result.stderr) == single_process_metrics


def test_slurm_train_preflight_stops_a_bad_config(tmp_path):
    env = launcher_env(29550, PATH=STAND_INS + os.pathsep +
                       os.environ['PATH'])
    missing = str(tmp_path / 'missing.py')
    result = run(['bash', 'tools/slurm_train.sh', 'cpu', 'bad', missing,
                  str(tmp_path / 'w')], env=env, check=False)
    assert result.returncode == 1
    assert 'missing.py' in result.stdout + result.stderr
    assert '+ srun' not in result.stderr  # stopped before queueing
