"""A checkpoint is never unpickled beyond the allow-list unless the user
trusts it: a code-running pickle is refused on every loading path, with one
error naming the file and the global, and nothing runs."""
import datetime
import functools
import http.server
import os
import sys
import threading
import warnings

import numpy as np
import pytest
import torch
from conftest import (TINY_PVT, assert_tensors_equal, run,
                      write_code_running_checkpoint)
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from mmagent import AgentPVT
from mmagent.apis import init_inferencer
from mmagent.utils import (CheckpointLoadError, UnsafeCheckpointError,
                           inspect_checkpoint, torch_load, trust_checkpoints)

DET_DEMO = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'
SEG_DEMO = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / 'PWNED'
    path = write_code_running_checkpoint(tmp_path / 'evil.pth', marker)
    yield path, marker
    assert not marker.exists(), 'a checkpoint ran code'


def assert_refused(text, path):
    assert f'{path} was refused' in text and 'posix.system' in text
    assert '--trust-checkpoint' in text


def test_mmengine_load_checkpoint_refuses(evil):
    path, _ = evil
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    assert_refused(str(e.value), path)
    with pytest.raises(UnsafeCheckpointError):
        inspect_checkpoint(path)  # the tools' check, without unpickling


def test_backbone_init_cfg_refuses(evil):
    path, _ = evil
    model = AgentPVT(**TINY_PVT,
                     init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(UnsafeCheckpointError) as e:
        model.init_weights()
    assert_refused(str(e.value), path)


def test_inferencer_api_refuses(evil):
    path, _ = evil
    with pytest.raises(UnsafeCheckpointError) as e:
        init_inferencer(SEG_DEMO, weights=str(path), device='cpu')
    assert_refused(str(e.value), path)


def test_url_refuses(evil, tmp_path):
    path, _ = evil
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}/evil.pth'
        with pytest.raises(UnsafeCheckpointError) as e:
            CheckpointLoader.load_checkpoint(url, map_location='cpu')
    finally:
        server.shutdown()
        torch.hub.set_dir(hub_dir)
    cached = tmp_path / 'hub' / 'checkpoints' / 'evil.pth'
    assert_refused(str(e.value), cached)


@pytest.mark.parametrize('tool', ['test', 'resume', 'demo', 'convert'])
@pytest.mark.slow
def test_tools_refuse_before_building(evil, tool, tmp_path):
    path, _ = evil
    cmd = {
        'test': ['tools/test.py', DET_DEMO, str(path)],
        'resume': ['tools/train.py', SEG_DEMO, '--resume', str(path),
                   '--work-dir', str(tmp_path / 'work')],
        'demo': ['demo/image_demo.py', 'resources/demo_seg.png', SEG_DEMO,
                 '--weights', str(path), '--out-dir', str(tmp_path / 'out')],
        'convert': ['tools/model_converters/official2mmagent.py', str(path),
                    str(tmp_path / 'out.pth')],
    }[tool]
    result = run([sys.executable, *cmd], check=False)
    assert result.returncode != 0
    assert_refused(result.stderr, path)
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out').exists()
    assert not (tmp_path / 'out.pth').exists()


def test_trusted_opt_in_loads_and_warns(tmp_path):
    """A benign type outside the allow-list: refused by default, loaded
    when trusted (argument, context, environment variable)."""
    path = tmp_path / 'dated.pth'
    torch.save({'state_dict': {'w': torch.ones(1)},
                'meta': {'date': datetime.date(2024, 7, 1)}}, path)
    with pytest.raises(UnsafeCheckpointError, match='datetime.date'):
        torch_load(path)
    with pytest.warns(UserWarning, match=f'{path}: fully unpickling'):
        assert torch_load(path, trusted=True)['meta']['date'].year == 2024
    with trust_checkpoints(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inspect_checkpoint(path)
        assert load_checkpoint(torch.nn.Module(), str(path), strict=False)
    with pytest.raises(UnsafeCheckpointError):
        torch_load(path)  # the context is over
    env = {'MMAGENT_TRUST_CHECKPOINTS': '1'}
    result = run([sys.executable, '-c',
                  f'from mmagent.utils import torch_load; '
                  f'print(torch_load({str(path)!r})["meta"]["date"])'],
                 env=env)
    assert '2024-07-01' in result.stdout


def test_every_legitimate_format_loads_safely(tmp_path):
    """mmengine checkpoint with optimizer, schedulers and message hub (numpy
    scalars and arrays, HistoryBuffer), no trust needed."""
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({
        'meta': {'epoch': 1, 'iter': 10, 'seed': np.int64(7),
                 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'param_schedulers': [{'base_lrs': [1e-3], 'last_step': 10}],
        'message_hub': {
            'log_scalars': {'train/loss': HistoryBuffer([0.5, 0.4], [1, 1])},
            'runtime_info': {'iter': 10, 'lr': np.float32(1e-3),
                             'mean': np.zeros(3)},
            'resumed_keys': {'iter': True}},
    }, str(path))
    assert inspect_checkpoint(path) == str(path)
    ckpt = torch_load(path)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(0.45) and buffer.current() == 0.4
    assert ckpt['meta']['seed'] == 7
    assert torch.equal(ckpt['optimizer']['state'][0]['exp_avg'],
                       optimizer.state_dict()['state'][0]['exp_avg'])


def test_history_buffer_getattr_is_narrow():
    from mmagent.utils.checkpoint import _history_buffer_getattr
    assert _history_buffer_getattr(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    for obj, name in [(HistoryBuffer, '__init__'), (os, 'system')]:
        with pytest.raises(Exception, match='not allowed'):
            _history_buffer_getattr(obj, name)


def test_truncated_checkpoint_named(tmp_path):
    path = tmp_path / 'iter_4.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError, match=str(path)):
        inspect_checkpoint(path)


@pytest.mark.slow
def test_every_trust_route_loads_what_the_default_refuses(tmp_path):
    """A benign checkpoint outside the allow-list (a date in ``meta``):
    refused by default and loaded through each opt-in route the docs name,
    the tools' --trust-checkpoint, ``init_cfg=dict(..., trusted=True)`` and
    the inferencers' ``trust_checkpoint=True``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    state_dict = MODELS.build(Config.fromfile(SEG_DEMO).model).state_dict()
    dated = tmp_path / 'dated.pth'
    torch.save({'state_dict': state_dict,
                'meta': {'date': datetime.date(2024, 7, 1)}}, dated)

    # a tool's flag: the converter refuses, then converts
    out = tmp_path / 'converted.pth'
    convert = [sys.executable, 'tools/model_converters/official2mmagent.py',
               str(dated), str(out)]
    refused = run(convert, check=False)
    assert refused.returncode != 0 and 'datetime.date' in refused.stderr
    assert not out.exists()
    run(convert + ['--trust-checkpoint'])
    assert out.is_file()
    # the image demo's flag
    demo = [sys.executable, 'demo/image_demo.py', 'resources/demo_seg.png',
            SEG_DEMO, '--weights', str(dated), '--out-dir',
            str(tmp_path / 'pictures')]
    assert run(demo, check=False).returncode != 0
    run(demo + ['--trust-checkpoint'])
    assert (tmp_path / 'pictures' / 'vis' / 'demo_seg.png').is_file()

    # init_cfg=dict(type='Pretrained', ..., trusted=True)
    backbone = {k[len('backbone.'):]: v for k, v in state_dict.items()
                if k.startswith('backbone.')}
    dated_backbone = tmp_path / 'dated_backbone.pth'
    torch.save({'state_dict': backbone,
                'meta': {'date': datetime.date(2024, 7, 1)}}, dated_backbone)
    backbone_cfg = dict(Config.fromfile(SEG_DEMO).model.backbone)
    backbone_cfg.pop('type')
    for trusted in (False, True):
        model = AgentPVT(**{**backbone_cfg, 'init_cfg': dict(
            type='Pretrained', checkpoint=str(dated_backbone),
            trusted=trusted)})
        if not trusted:
            with pytest.raises(UnsafeCheckpointError):
                model.init_weights()
            continue
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model.init_weights()
        state = model.state_dict()
        assert_tensors_equal({k: state[k] for k in backbone}, backbone)

    # the inferencers' trust_checkpoint=True
    with pytest.raises(UnsafeCheckpointError):
        init_inferencer(SEG_DEMO, weights=str(dated), device='cpu')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = init_inferencer(SEG_DEMO, weights=str(dated),
                                     device='cpu', trust_checkpoint=True)
    state = inferencer.model.state_dict()
    assert_tensors_equal({k: state[k] for k in state_dict}, state_dict)
