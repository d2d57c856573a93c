import os.path as osp

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


def pytest_configure(config):
    import mmagent  # noqa: F401  registers the backbones, patches loading


@pytest.fixture
def golden_dir():
    if not osp.isdir(GOLDEN_DIR):
        pytest.skip(f'golden fixtures not found: {GOLDEN_DIR} does not exist '
                    f'(they live in the shared folder beside the repo)')
    return GOLDEN_DIR


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
