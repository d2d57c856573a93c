"""Crash-safe training: kill -9 half-way through writing a checkpoint, move
the work dir, plant a truncated newer checkpoint, then --resume: training
continues from the last complete checkpoint and ends with the weights and
optimizer state of an uninterrupted run, bit for bit."""
import os
import os.path as osp
import re
import shutil
import sys
import time

import pytest
from conftest import REPO_ROOT, run
from training_runs import training_state_differences, write_config

# kills and resumes training runs: `make test-fast` skips them
pytestmark = pytest.mark.slow


def test_kill_9_then_resume_matches_uninterrupted_run(tiny_ade, tmp_path):
    # one process, loader in the main process (2 persistent workers: the
    # epoch-based resume test)
    plain = write_config(tmp_path / 'plain.py', tiny_ade, keep=1, workers=0)
    run([sys.executable, 'tools/train.py', plain, '--work-dir',
         str(tmp_path / 'plain')])

    crashing = write_config(tmp_path / 'crash.py', tiny_ade, """
        custom_imports = dict(imports=['mmagent', 'crash_hooks'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='KillWhileSaving', iteration=6)]
    """, keep=1, workers=0)
    work_dir = str(tmp_path / 'work')
    env = {'PYTHONPATH': osp.join(REPO_ROOT, 'tests')}
    result = run([sys.executable, 'tools/train.py', crashing, '--work-dir',
                  work_dir], check=False, env=env)
    assert result.returncode == -9  # SIGKILL while writing iter_6
    # Half of iter_6 reached the disk, under its partial name only; the
    # older checkpoint is deleted only after a new one is complete.
    files = sorted(os.listdir(work_dir))
    assert files.count('iter_4.pth') == 1 and 'iter_6.pth' not in files
    half = osp.getsize(osp.join(work_dir, 'iter_6.pth.partial'))
    assert 0 < half < osp.getsize(osp.join(work_dir, 'iter_4.pth'))

    moved = str(tmp_path / 'moved')
    shutil.move(work_dir, moved)
    with open(osp.join(moved, 'last_checkpoint')) as f:
        assert f.read().startswith(work_dir)  # the old, absolute place
    # A newest checkpoint cut short, as a plain write dying half-way
    # leaves it, and named by last_checkpoint.
    complete = open(osp.join(moved, 'iter_4.pth'), 'rb').read()
    truncated = osp.join(moved, 'iter_6.pth')
    with open(truncated, 'wb') as f:
        f.write(complete[:len(complete) // 3])
    with open(osp.join(moved, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'iter_6.pth'))

    result = run([sys.executable, 'tools/train.py', plain, '--work-dir',
                  moved, '--resume'])
    out = result.stdout + result.stderr
    assert f'not resuming from {truncated}' in out
    assert (f'resuming from {osp.join(moved, "iter_4.pth")} instead of '
            f'{truncated}') in out
    assert 'Iter(train) [5/8]' in out and 'Iter(train) [4/8]' not in out
    assert training_state_differences(
        osp.join(tmp_path, 'plain', 'iter_8.pth'),
        osp.join(moved, 'iter_8.pth')) == []


def test_dead_worker_stops_the_others(tiny_ade, tmp_path):
    """Two CPU processes; rank 1 is killed at iteration 3: the run ends
    within a bounded time (not torch's 30-minute collective timeout) and
    says which rank failed."""
    config = write_config(tmp_path / 'dist.py', tiny_ade, """
        custom_imports = dict(imports=['mmagent', 'crash_hooks'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='KillRank', rank=1, iteration=3)]
    """, workers=0)
    env = {'PYTHONPATH': osp.join(REPO_ROOT, 'tests'), 'PORT': '29533',
           'PYTHON': sys.executable, 'OMP_NUM_THREADS': '1',
           'MMAGENT_DIST_TIMEOUT': '60'}
    start = time.time()
    result = run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                  str(tmp_path / 'work')], check=False, env=env, timeout=400)
    elapsed = time.time() - start
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'timeout': 60" in out  # the process group's timeout
    assert 'Iter(train) [8/8]' not in out
    assert re.search(r'rank\s*:\s*1', out) and 'SIGKILL' in out
    assert elapsed < 300
