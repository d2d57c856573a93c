"""``configure_cpu_malloc``: freed host memory is reused (fewer page
faults), the ``system`` mode and bad values, through the tools too."""
import subprocess
import sys

import pytest
from conftest import run

# Minor page faults of sixty 64 MiB tensors made, written and freed. The
# cached heap settles after a few (PyTorch's 64-byte-aligned requests do
# not fit the block just freed until freed blocks coalesce: 2 to 9 fresh
# blocks were measured); the system allocator maps fresh pages every time.
FAULTS = '''
import resource, sys, torch
from mmagent.utils.cpu_malloc import configure_cpu_malloc
mode = configure_cpu_malloc()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(60):
    torch.empty(16 * 2**20).fill_(1)
print(mode, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


def page_faults(mode):
    out = subprocess.run([sys.executable, '-c', FAULTS], check=True,
                         capture_output=True, text=True,
                         env={'MMAGENT_CPU_MALLOC': mode, 'PATH': ''})
    applied, faults = out.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc only')
@pytest.mark.slow
def test_cached_mode_reuses_freed_memory():
    cached_mode, cached = page_faults('cached')
    system_mode, system = page_faults('system')
    assert (cached_mode, system_mode) == ('cached', 'system')
    # system: every tensor faults its 16k pages in again; cached: a few
    assert system > 60 * 16 * 2**20 * 4 // 4096 * 0.8
    assert cached < system / 4


def test_bad_mode_is_one_error():
    from mmagent.utils.cpu_malloc import configure_cpu_malloc
    with pytest.raises(ValueError, match="expected one of"):
        configure_cpu_malloc('fast')
    result = run([sys.executable, 'tools/train.py', 'missing.py'],
                 check=False, env={'MMAGENT_CPU_MALLOC': 'fast'})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: MMAGENT_CPU_MALLOC='fast': expected one of "
        "('cached', 'system')"]
