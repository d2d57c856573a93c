import importlib
import os
import os.path as osp
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
GOLDEN_DIR = osp.join(osp.dirname(REPO_ROOT), 'shared', 'golden')

# Small variants keep the suite fast; the presets are covered separately.
TINY_PVT = dict(
    embed_dims=[16, 32, 40, 64], depths=[1, 1, 1, 1], num_heads=[1, 2, 5, 8],
    mlp_ratios=[2, 2, 2, 2], drop_path_rate=0.)
TINY_SWIN = dict(
    embed_dims=16, depths=[2, 2, 4, 2], num_heads=[1, 2, 4, 8],
    attn_type='AAMB2', drop_path_rate=0.)
#: Swin with softmax windows only: what BiViT binarizes.
SOFTMAX_SWIN = dict(embed_dims=16, depths=[2, 2, 2, 2],
                    num_heads=[1, 2, 4, 8], attn_type='BBBB')
TINY_CSWIN = dict(embed_dim=16, depth=[1, 2, 2, 1], split_size=[1, 2, 7, 7],
                  num_heads=[2, 2, 4, 4], drop_path_rate=0.)
_PVT_ARCH = {k: v for k, v in TINY_PVT.items() if k != 'drop_path_rate'}


def block_context(**overrides):
    """A complete block context (every BlockContext key without a default)
    for building one attention kind alone."""
    return dict(dict(embed_dims=32, num_heads=4, pretrain_hw=(8, 8),
                     qkv_bias=True, attn_drop=0., proj_drop=0., exact=False,
                     fused_qkv=True, agent_num=16, agent_shape=(4, 4),
                     kernel_size=3, scale=-0.5, window_size=7, split_size=7),
                **overrides)


def _tiny(name, **kwargs):
    def build():
        from mmagent.models import backbones
        return getattr(backbones, name)(**kwargs)
    return build


#: one small model of each of the eight families (compile and export tests)
TINY_FAMILIES = {
    'agent-pvt': _tiny('AgentPVT', **TINY_PVT),
    'agent-swin': _tiny('AgentSwinTransformer', **TINY_SWIN),
    'agent-deit': _tiny('AgentDeiT', embed_dims=24, depth=3, num_heads=3,
                        agent_num=9, agent_layer=2, drop_path_rate=0.),
    'agent-cswin': _tiny('AgentCSWin', **TINY_CSWIN),
    'flatten-pvt': _tiny('FLattenPVT', arch=_PVT_ARCH, drop_path_rate=0.),
    'flatten-pvtv2': _tiny('FLattenPVTv2', arch=_PVT_ARCH,
                           drop_path_rate=0.),
    'flatten-swin': _tiny('FLattenSwinTransformer', arch=dict(
        embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
        attn_type='LLSS'), drop_path_rate=0.),
    'flatten-cswin': _tiny('FLattenCSWin', **TINY_CSWIN),
}
#: two input sizes per family; the second needs padding at some stage
#: (patches, windows); CSWin's free-size export takes multiples of 224
TINY_SIZES = {name: [(96, 128), (80, 176)] for name in TINY_FAMILIES}
TINY_SIZES.update({'agent-deit': [(224, 224), (160, 250)],
                   'agent-cswin': [(224, 224), (224, 448)],
                   'flatten-cswin': [(224, 224), (224, 448)]})


OFFLINE_SITE = osp.join(osp.dirname(osp.abspath(__file__)), 'offline')


def pytest_configure(config):
    # No test reaches the network, nor the user's cache: connections leave
    # this machine only refused, here and in the tools the tests start.
    runpy.run_path(osp.join(OFFLINE_SITE, 'sitecustomize.py'))
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [OFFLINE_SITE] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    os.environ['MMAGENT_HOME'] = config._mmagent_home = tempfile.mkdtemp(
        prefix='mmagent_home_')
    if os.environ.get('PYTEST_XDIST_WORKER'):
        # two workers on two cores: one thread each, not two apiece; the
        # tools they start inherit it (OpenMP threads of a tool and of the
        # other worker on one core spin against each other)
        torch.set_num_threads(1)
        os.environ.setdefault('OMP_NUM_THREADS', '1')
    import mmagent  # noqa: F401  registers the backbones, patches loading


def pytest_unconfigure(config):
    home = getattr(config, '_mmagent_home', None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` (the GPU suite, ``make test-gpu``) are skipped,
    and reported as skipped, where torch sees no GPU; the suite's dry run
    on the CPU (``MMAGENT_GPU_SUITE_DEVICE=cpu``) runs them there."""
    if torch.cuda.is_available() or \
            os.environ.get('MMAGENT_GPU_SUITE_DEVICE') == 'cpu':
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (torch.cuda.'
                            'is_available() is False): make test-gpu')
    for item in items:
        if item.get_closest_marker('cuda'):
            item.add_marker(skip)


def require(module, reason):
    """Import an optional dependency: where it is missing the test is
    skipped with ``reason``, but under CI (which installs every extra) it
    fails, as a missing golden fixture does."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get('CI') == 'true':
            pytest.fail(f'{reason}, missing under CI: {error}',
                        pytrace=False)
        pytest.skip(f'{reason} ({error})', allow_module_level=True)


@pytest.fixture
def golden_dir():
    if not osp.isdir(GOLDEN_DIR):
        if os.environ.get('CI') == 'true':  # CI always has shared/ beside
            pytest.fail(f'golden fixtures not found under CI: {GOLDEN_DIR} '
                        f'does not exist')
        pytest.skip(f'golden fixtures not found: {GOLDEN_DIR} does not exist '
                    f'(they live in the shared folder beside the repo)')
    return GOLDEN_DIR


@pytest.fixture(scope='session')
def tiny_ade(tmp_path_factory):
    """4 training and 2 validation scenes of the demo generator."""
    root = str(tmp_path_factory.mktemp('demo_ade20k'))
    result = run([sys.executable, 'tools/misc/make_demo_ade20k.py', root,
                  '--train', '4', '--val', '2'])
    assert 'training: 4 images, 13 classes' in result.stdout
    return root


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """8 training and 4 validation images of the detection demo generator,
    as a data root ending in '/'."""
    root = tmp_path_factory.mktemp('demo_coco')
    run([sys.executable, 'tools/misc/make_demo_coco.py', str(root),
         '--train', '8', '--val', '4'])
    return str(root) + '/'


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def assert_tensors_equal(got, expected):
    """Element for element, in order: sequences (or state dicts, compared
    key for key) of the same length, non-empty, with equal tensors."""
    if isinstance(expected, dict):
        assert list(got) == list(expected), (list(got), list(expected))
        got, expected = list(got.values()), list(expected.values())
    got, expected = list(got), list(expected)
    assert len(got) == len(expected) > 0, (len(got), len(expected))
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape and torch.equal(a, b), \
            f'item {index} differs'


def run(args, check=True, timeout=900, env=None):
    """Run a tool from the repository root as a user would. On a timeout
    the tool's whole process group is killed (launchers leave workers
    that would hold their ports otherwise)."""
    process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})},
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    result = subprocess.CompletedProcess(args, process.returncode, stdout,
                                         stderr)
    if check:
        assert result.returncode == 0, (result.stdout[-3000:] +
                                        result.stderr[-3000:])
    return result


def write_official_checkpoint(config, path, scope, meta):
    """Save a checkpoint laid out like the official releases (mmdet 2.x /
    mmseg 0.x: the official backbone names, which ours keep, old-style
    ``meta`` and an optimizer state) for the model of ``config``, with
    random values. Returns the model's state dict (for its key order)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    init_default_scope(scope)
    models = importlib.import_module(f'{scope}.registry').MODELS
    state_dict = models.build(cfg.model).state_dict()
    torch.save({
        'meta': meta,
        'state_dict': {k: torch.randn_like(v) if v.is_floating_point()
                       else v for k, v in state_dict.items()},
        'optimizer': {'state': {}, 'param_groups': []},
    }, path)
    return state_dict


class RunsCode:
    """Unpickling this touches ``marker``: the proof a loader ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def write_code_running_checkpoint(path, marker, state_dict=None):
    """A checkpoint whose pickle runs a shell command when fully unpickled
    (the issue's example); its weights are ``state_dict`` or a Linear's."""
    state_dict = state_dict or torch.nn.Linear(1, 1).state_dict()
    torch.save({'state_dict': state_dict, 'meta': RunsCode(marker)},
               str(path))
    return path
