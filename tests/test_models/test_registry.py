"""Both backbones are in MMEngine's root MODELS, visible from the mmdet,
mmseg and mmpretrain registries and from configs' custom_imports."""
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import REPO_ROOT, TINY_PVT, TINY_SWIN
from mmengine.registry import DefaultScope

from mmagent import AgentPVT, AgentSwinTransformer

REGISTRIES = ['mmdet', 'mmseg', 'mmpretrain']


@pytest.mark.parametrize('scope', REGISTRIES)
@pytest.mark.parametrize('cfg,cls', [
    (dict(type='AgentPVT', **TINY_PVT), AgentPVT),
    (dict(type='AgentSwinTransformer', **TINY_SWIN), AgentSwinTransformer),
])
def test_build_from_downstream_registry(scope, cfg, cls):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg)
    assert type(model) is cls
    outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert len(outs) == 4


@pytest.mark.slow
def test_custom_imports_registers_in_fresh_process(tmp_path):
    """A config with custom_imports=['mmagent'] is all a user needs."""
    config = tmp_path / 'cfg.py'
    config.write_text(textwrap.dedent("""
        default_scope = 'mmdet'
        custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
        model = dict(type='AgentSwinTransformer', arch='t', out_indices=(3,))
    """))
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        assert 'mmagent' not in sys.modules
        cfg = Config.fromfile({str(config)!r})
        init_default_scope(cfg.default_scope)
        from mmdet.registry import MODELS
        model = MODELS.build(cfg.model)
        print(type(model).__module__, type(model).__name__)
    """)
    result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmagent.models.backbones.agent_swin AgentSwinTransformer' in \
        result.stdout
