"""A wheel of mmagent carries its configs and model index (mmagent/.mim),
so model names resolve from an install outside the source tree."""
import glob
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT, run


@pytest.mark.slow
def test_wheel_install_resolves_model_names(tmp_path):
    wheel_dir, site = tmp_path / 'wheel', tmp_path / 'site'
    # Built from a copy: setuptools' build/ folder would keep stale files.
    source = tmp_path / 'source'
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'build', 'work_dirs', 'data', '*.egg-info',
        '__pycache__'))
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(wheel_dir), str(source)])
    wheels = glob.glob(str(wheel_dir / 'mmagent-*.whl'))
    assert len(wheels) == 1
    run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
         '--target', str(site), wheels[0]])
    script = textwrap.dedent("""
        import sys
        import mmagent
        # The diffusion extra stays optional: not imported by mmagent.
        assert 'diffusers' not in sys.modules
        from mmengine.config import Config
        from mmagent.utils.model_zoo import model_index, resolve_config
        print(mmagent.__file__)
        path = resolve_config('mask-rcnn_agent-pvt-t_fpn_1x_coco')
        print(path)
        cfg = Config.fromfile(path)
        print(cfg.model.backbone.type, cfg.model.backbone.arch)
        print(len(model_index()))
    """)
    result = subprocess.run(
        [sys.executable, '-c', script], cwd=tmp_path,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, 'PYTHONPATH': str(site)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split('\n')
    mim = os.path.join(str(site), 'mmagent', '.mim', 'configs', 'det')
    assert lines[0].startswith(str(site)) and REPO_ROOT not in lines[0]
    assert lines[1] == os.path.join(mim, 'mask-rcnn_agent-pvt-t_fpn_1x_coco.py')
    # cls 18 + 17 + 4, det 16 + 5 + 2, seg 7 + 3 (Agent + FLatten + BiViT)
    assert lines[2:4] == ['AgentPVT t', '72']
    # `pip install mmagent[diffusion]` brings diffusers, not the core install.
    from zipfile import ZipFile
    with ZipFile(wheels[0]) as wheel:
        metadata = next(wheel.read(name).decode() for name in wheel.namelist()
                        if name.endswith('.dist-info/METADATA'))
    assert 'Provides-Extra: diffusion' in metadata
    assert 'Requires-Dist: diffusers>=0.30; extra == "diffusion"' in metadata
    assert not any(line.startswith('Requires-Dist: diffusers')
                   and 'extra ==' not in line
                   for line in metadata.splitlines())
