"""Pretrained loading through init_cfg, in every checkpoint format, and the
torch>=2.6 weights_only fix for mmengine checkpoints."""
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from conftest import TINY_PVT, TINY_SWIN
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.runner import load_checkpoint, save_checkpoint

from mmagent import AgentPVT, AgentSwinTransformer
from mmagent.utils import CheckpointLoadError


class FakeCfgNode(dict):
    """Looks like yacs' CfgNode (a dict subclass with attribute state)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__['__immutable__'] = False


def save_with_fake_yacs(obj, path):
    """Pickle FakeCfgNode as ``yacs.config.CfgNode`` while a fake ``yacs``
    module exists, then remove it: loading must cope without yacs."""
    yacs = types.ModuleType('yacs')
    yacs.config = types.ModuleType('yacs.config')
    yacs.config.CfgNode = FakeCfgNode
    FakeCfgNode.__module__, FakeCfgNode.__qualname__ = 'yacs.config', 'CfgNode'
    sys.modules.update({'yacs': yacs, 'yacs.config': yacs.config})
    try:
        torch.save(obj, path)
    finally:
        FakeCfgNode.__module__, FakeCfgNode.__qualname__ = \
            __name__, 'FakeCfgNode'
        for name in ('yacs', 'yacs.config'):
            if sys.modules.get(name) in (yacs, yacs.config):
                del sys.modules[name]


def randomized(state_dict):
    return {k: torch.randn_like(v) if v.is_floating_point() else v.clone()
            for k, v in state_dict.items()}


def assert_loaded(model, state_dict):
    own = model.state_dict()
    for k, v in state_dict.items():
        if k in own:
            assert torch.equal(own[k], v), k


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / 'log.txt'
    MMLogger.get_instance(f'ckpt-test-{tmp_path.name}', log_file=str(path))
    return path


def test_official_imagenet_pvt_with_yacs_config(tmp_path, log_file):
    source = randomized(AgentPVT(**TINY_PVT).state_dict())
    ckpt = {'model': {**source, 'head.weight': torch.zeros(10, 64),
                      'head.bias': torch.zeros(10)},
            'optimizer': {}, 'lr_scheduler': {}, 'max_accuracy': 78.4,
            'epoch': 299,
            'config': FakeCfgNode(MODEL=FakeCfgNode(TYPE='agent_pvt_tiny'))}
    path = tmp_path / 'max_acc.pth'
    save_with_fake_yacs(ckpt, path)
    assert 'yacs' not in sys.modules
    model = AgentPVT(**TINY_PVT,
                     init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert_loaded(model, source)
    log = log_file.read_text()
    assert 'unexpected keys (ignored): head.weight, head.bias' in log


def test_official_imagenet_swin(tmp_path, log_file):
    model = AgentSwinTransformer(**TINY_SWIN)
    source = randomized(model.state_dict())
    imagenet = {k: v for k, v in source.items()
                if not k.startswith('norm')}  # no per-output norms
    imagenet.update({'norm.weight': torch.ones(128),
                     'norm.bias': torch.zeros(128),
                     'head.weight': torch.zeros(10, 128),
                     'layers.3.blocks.1.attn_mask': torch.zeros(1, 49, 49)})
    path = tmp_path / 'swin.pth'
    torch.save({'model': imagenet, 'epoch': 1}, path)
    model.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    model.init_weights()
    assert_loaded(model, imagenet)
    log = log_file.read_text()
    assert 'missing keys (kept at init): norm0.weight' in log
    assert 'layers.3.blocks.1.attn_mask' in log


def test_mmengine_detector_checkpoint_with_backbone_prefix(tmp_path):
    source = randomized(AgentPVT(**TINY_PVT).state_dict())
    detector = torch.nn.Module()
    detector.backbone = AgentPVT(**TINY_PVT)
    detector.backbone.load_state_dict(source)
    detector.neck = torch.nn.Conv2d(64, 8, 1)
    path = tmp_path / 'epoch_1.pth'
    # mmengine's format, with the objects torch>=2.6 refuses by default
    save_checkpoint(
        {'meta': {'epoch': 1, 'lr': np.float64(1e-4)},
         'state_dict': detector.state_dict(),
         'message_hub': {'log_scalars': {'loss': HistoryBuffer([1.0], [1])}}},
        str(path))
    model = AgentPVT(**TINY_PVT,
                     init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert_loaded(model, source)
    # an explicit prefix works as well
    model = AgentPVT(**TINY_PVT, init_cfg=dict(
        type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    assert_loaded(model, source)


def test_bare_state_dict_and_deprecated_pretrained(tmp_path):
    source = randomized(AgentSwinTransformer(**TINY_SWIN).state_dict())
    path = tmp_path / 'bare.pth'
    torch.save(source, path)
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = AgentSwinTransformer(**TINY_SWIN, pretrained=str(path))
    model.init_weights()
    assert_loaded(model, source)
    with pytest.raises(ValueError, match='same time'):
        AgentPVT(pretrained=str(path), init_cfg=dict(type='Pretrained'))


def load(model_cls, kwargs, path):
    model = model_cls(**kwargs,
                      init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()


def test_wrong_architecture_shape_mismatch(tmp_path):
    path = tmp_path / 'other_arch.pth'
    torch.save({'model': AgentPVT(**TINY_PVT).state_dict()}, path)
    wider = dict(TINY_PVT, embed_dims=[32, 32, 40, 64])
    with pytest.raises(CheckpointLoadError) as e:
        load(AgentPVT, wider, path)
    msg = str(e.value)
    assert str(path) in msg and 'pos_embed1' in msg
    assert '(1, 3136, 16)' in msg and '(1, 3136, 32)' in msg


def test_wrong_architecture_missing_weights(tmp_path):
    path = tmp_path / 'shallow.pth'
    torch.save({'state_dict': AgentPVT(**TINY_PVT).state_dict()}, path)
    deeper = dict(TINY_PVT, depths=[1, 2, 1, 1])
    with pytest.raises(CheckpointLoadError, match=r"lacks 'block2\.1\."):
        load(AgentPVT, deeper, path)


def test_other_backbone_checkpoint(tmp_path):
    path = tmp_path / 'swin.pth'
    torch.save(AgentSwinTransformer(**TINY_SWIN).state_dict(), path)
    with pytest.raises(CheckpointLoadError,
                       match='holds no weight of AgentPVT'):
        load(AgentPVT, TINY_PVT, path)


def test_truncated_file(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save({'model': AgentPVT(**TINY_PVT).state_dict()}, path)
    data = path.read_bytes()
    cut = tmp_path / 'truncated.pth'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError, match='truncated') as e:
        load(AgentPVT, TINY_PVT, cut)
    assert str(cut) in str(e.value)


@pytest.mark.parametrize('content', [b'not a checkpoint\n', b'\x89PNG\r\n'])
def test_not_a_checkpoint(tmp_path, content):
    path = tmp_path / 'image.png'
    path.write_bytes(content)
    with pytest.raises(CheckpointLoadError, match=str(path)):
        load(AgentPVT, TINY_PVT, path)


def test_pickle_without_tensors_and_missing_file(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointLoadError, match='holds a list'):
        load(AgentPVT, TINY_PVT, path)
    path = tmp_path / 'meta_only.pth'
    torch.save({'model': {'epoch': 3}}, path)
    with pytest.raises(CheckpointLoadError, match='not a state dict'):
        load(AgentPVT, TINY_PVT, path)
    with pytest.raises(CheckpointLoadError, match='not found'):
        load(AgentPVT, TINY_PVT, tmp_path / 'nope.pth')


def test_mmengine_load_checkpoint_on_new_torch(tmp_path):
    """mmengine 0.10.7 calls torch.load without weights_only; the shim that
    ``import mmagent`` installs makes its own checkpoints loadable."""
    model = torch.nn.Linear(3, 2)
    path = tmp_path / 'iter_10.pth'
    save_checkpoint(
        {'meta': {'iter': 10, 'seed': np.int64(7)},
         'state_dict': model.state_dict(),
         'message_hub': {'log_scalars': {'loss': HistoryBuffer([0.5], [1])}}},
        str(path))
    if tuple(int(v) for v in torch.__version__.split('.')[:2]) >= (2, 6):
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path)  # what mmengine alone would do
    target = torch.nn.Linear(3, 2)
    ckpt = load_checkpoint(target, str(path), map_location='cpu')
    assert ckpt['meta']['iter'] == 10
    assert torch.equal(target.weight, model.weight)
