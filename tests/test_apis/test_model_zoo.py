"""Models by name: list_models / get_model on the packaged index, and the
weights fetched from a real HTTP server on 127.0.0.1 through a test model
index: download, conversion of an official file, the cache, and every
fault (checksum, a connection cut half-way, a code-running pickle, no
server, no released weights) leaving nothing in the cache."""
import hashlib
import http.server
import os
import os.path as osp
import sys
import threading

import pytest
import torch
import yaml
from conftest import (REPO_ROOT, assert_tensors_equal, require, run,
                      write_code_running_checkpoint, write_official_checkpoint)

import mmagent
from mmagent.apis import get_model, init_inferencer
from mmagent.utils import CheckpointLoadError
from mmagent.utils.download import DownloadError

SEG_DEMO = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'


def test_list_models_by_pattern_and_task():
    swin = mmagent.list_models('*agent-swin*')
    assert 'mask-rcnn_agent-swin-t_fpn_1x_coco' in swin
    assert 'agent-swin-t_in1k' in swin
    assert all('agent-swin' in name for name in swin)
    detectors = mmagent.list_models(task='det')
    assert detectors and all('coco' in name for name in detectors)
    assert mmagent.list_models('*agent-swin*', task='Semantic '
                               'Segmentation') == [
        name for name in swin if 'ade20k' in name]
    everything = mmagent.list_models()
    assert len(everything) == len(set(everything)) >= 70
    with pytest.raises(ValueError, match='unknown task'):
        mmagent.list_models(task='depth')


def test_get_model_builds_each_task_by_name():
    """The right registry and scope per task; random weights by default;
    an unknown name is one error with the closest names."""
    from mmdet.models import MaskRCNN
    from mmpretrain.models import ImageClassifier
    from mmseg.models import EncoderDecoder
    for name, kind in (('agent-pvt-t_in1k', ImageClassifier),
                       ('mask-rcnn_agent-pvt-t_fpn_1x_coco', MaskRCNN),
                       ('fpn_agent-pvt-t_40k_ade20k-512x512',
                        EncoderDecoder)):
        model = get_model(name)
        assert isinstance(model, kind) and not model.training
        assert model.dataset_meta['classes']
    with pytest.raises(KeyError, match='Did you mean'):
        get_model('agent-pvt-tt_in1k')


class Server:
    """Files by URL path on 127.0.0.1, a random port; ``/cut/...`` sends
    half the file under the whole file's Content-Length, then hangs up."""

    def __init__(self, files):
        files = dict(files)

        class Handler(http.server.BaseHTTPRequestHandler):

            def do_GET(self):
                cut = self.path.startswith('/cut/')
                body = files.get(self.path[4:] if cut else self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if cut else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                     Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A test model index whose models are the segmentation demo config
    with weights on a loopback server, and an empty MMAGENT_HOME."""
    from mmengine.config import Config
    metainfo = Config.fromfile(
        osp.join(REPO_ROOT, SEG_DEMO)).test_dataloader.dataset.metainfo
    classes = tuple(reversed(metainfo['classes']))  # not the config's
    official = tmp_path / 'official.pth'
    state_dict = write_official_checkpoint(
        SEG_DEMO, official, 'mmseg',
        {'mmseg_version': '0.28.0', 'CLASSES': classes,
         'PALETTE': metainfo['palette'], 'config': 'model = dict(...)'})
    evil = write_code_running_checkpoint(
        tmp_path / 'evil.pth', tmp_path / 'ran', state_dict=state_dict)
    files = {'/official.pth': official.read_bytes(),
             '/evil.pth': evil.read_bytes()}
    server = Server(files)
    digest = hashlib.sha256(files['/official.pth']).hexdigest()
    config = osp.join(REPO_ROOT, SEG_DEMO)

    def model(name, path=None, sha256=None):
        entry = {'Name': name, 'Config': config,
                 'Results': [{'Task': 'Semantic Segmentation'}]}
        if path:
            entry['Weights'] = server.url + path
        if sha256:
            entry['Weights SHA256'] = sha256
        return entry

    (tmp_path / 'metafile.yml').write_text(yaml.safe_dump({'Models': [
        model('demo-seg', '/official.pth', digest),
        model('demo-seg-no-checksum', '/official.pth'),
        model('demo-seg-bad-checksum', '/official.pth', '0' * 64),
        model('demo-seg-cut', '/cut/official.pth'),
        model('demo-seg-evil', '/evil.pth'),
        model('demo-seg-missing', '/gone.pth'),
        model('demo-seg-unreleased'),
    ]}))
    index = tmp_path / 'model-index.yml'
    index.write_text(yaml.safe_dump({'Import': ['metafile.yml']}))
    home = tmp_path / 'home'
    monkeypatch.setenv('MMAGENT_MODEL_INDEX', str(index))
    monkeypatch.setenv('MMAGENT_HOME', str(home))
    yield dict(server=server, home=home, state_dict=official,
               classes=classes, checkpoints=home / 'checkpoints',
               marker=tmp_path / 'ran')
    server.stop()


def _cached(zoo):
    folder = zoo['checkpoints']
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def counting(monkeypatch, owner, name):
    """Record the calls of ``owner.name`` (still made)."""
    calls, original = [], getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.slow
def test_fetch_converts_caches_and_works_offline(zoo):
    """First call: download (checksum verified), conversion of the
    official file (strict against the config), cache. Second call with
    the server stopped: from the cache. The inferencer takes the bare
    name and the same cache."""
    official = torch.load(zoo['state_dict'], weights_only=True)
    from mmengine.config import Config
    from mmseg.registry import MODELS
    with pytest.MonkeyPatch.context() as patch:
        reads = counting(patch, Config, 'fromfile')
        builds = counting(patch, MODELS, 'build')
        model = get_model('demo-seg', pretrained=True)
    # the config read once, the model built once (conversion check included)
    whole = [cfg for cfg, *_ in builds if cfg['type'] == model.cfg.model.type]
    assert len(reads) == 1 and len(whole) == 1
    assert _cached(zoo) == ['demo-seg.pth', 'demo-seg_mmagent.pth']
    for key, value in model.state_dict().items():
        assert torch.equal(value, official['state_dict'][key]), key
    assert model.dataset_meta['classes'] == zoo['classes']
    # pretrained= a URL (any model) or a local official file
    by_url = get_model('demo-seg-unreleased',
                       pretrained=f'{zoo["server"].url}/official.pth')
    by_path = get_model('demo-seg', pretrained=str(zoo['state_dict']))
    for other in (by_url, by_path):
        assert_tensors_equal(other.state_dict(), model.state_dict())
    zoo['server'].stop()
    again = get_model('demo-seg', pretrained=True)
    assert_tensors_equal(again.state_dict(), model.state_dict())
    inferencer = init_inferencer('demo-seg', device='cpu')
    assert inferencer.model.dataset_meta['classes'] == zoo['classes']


@pytest.mark.parametrize('name,message', [
    ('demo-seg-bad-checksum', 'does not match its SHA-256'),
    ('demo-seg-cut', 'was cut short'),
    ('demo-seg-missing', 'HTTP 404 Not Found'),
])
def test_failed_downloads_leave_nothing(zoo, name, message):
    with pytest.raises(DownloadError, match=message) as error:
        get_model(name, pretrained=True)
    text = str(error.value)
    assert zoo['server'].url in text and '--weights' in text
    assert str(zoo['checkpoints'] / f'{name}.pth') in text
    assert _cached(zoo) == []


def test_code_running_pickle_is_refused_and_not_kept(zoo):
    with pytest.raises(CheckpointLoadError, match='refus|not allowed'):
        get_model('demo-seg-evil', pretrained=True)
    assert not zoo['marker'].exists()
    assert _cached(zoo) == []


@pytest.mark.slow
def test_offline_and_unreleased_say_what_to_do(zoo):
    zoo['server'].stop()
    with pytest.raises(DownloadError) as error:
        get_model('demo-seg-no-checksum', pretrained=True)
    text = str(error.value)
    assert f'{zoo["server"].url}/official.pth' in text
    assert str(zoo['checkpoints'] / 'demo-seg-no-checksum.pth') in text
    assert '--weights' in text
    with pytest.raises(CheckpointLoadError, match='no released weights'):
        get_model('demo-seg-unreleased', pretrained=True)
    # dropping the file where the message says makes it work offline
    os.makedirs(zoo['checkpoints'], exist_ok=True)
    os.link(zoo['state_dict'],
            zoo['checkpoints'] / 'demo-seg-no-checksum.pth')
    assert get_model('demo-seg-no-checksum', pretrained=True)


@pytest.mark.slow
def test_image_demo_takes_a_bare_model_name(zoo, tmp_path):
    out = tmp_path / 'out'
    result = run([sys.executable, 'demo/image_demo.py',
                  'resources/demo_seg.png', 'demo-seg', '--out-dir',
                  str(out)], env={'MMAGENT_MODEL_INDEX':
                                  os.environ['MMAGENT_MODEL_INDEX'],
                                  'MMAGENT_HOME': str(zoo['home'])})
    assert 'RANDOMLY' not in result.stderr
    assert (out / 'vis' / 'demo_seg.png').is_file()
    assert 'demo-seg_mmagent.pth' in _cached(zoo)
    zoo['server'].stop()
    result = run([sys.executable, 'demo/image_demo.py',
                  'resources/demo_seg.png', 'demo-seg-unreleased',
                  '--out-dir', str(out)], check=False,
                 env={'MMAGENT_MODEL_INDEX':
                      os.environ['MMAGENT_MODEL_INDEX'],
                      'MMAGENT_HOME': str(zoo['home'])})
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'no released weights' in result.stderr


@pytest.mark.slow
def test_mim_download_reads_the_packaged_model_index(tmp_path, monkeypatch):
    """openmim's ``mim download mmagent --config NAME --dest DIR`` on a
    regular install (``pip install .`` ships configs/ and model-index.yml in
    mmagent/.mim): the model's weights (here its link swapped for a
    loopback one in the installed copy) and its config land in DIR, and
    get_model converts the official file from there."""
    require('mim', 'needs openmim (requirements/tests.txt)')
    monkeypatch.setenv('MMAGENT_HOME', str(tmp_path / 'home'))
    target = tmp_path / 'site'
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--target', str(target), '.'])
    metafile = target / 'mmagent' / '.mim' / 'configs' / 'cls' / \
        'metafile.yml'
    entries = yaml.safe_load(metafile.read_text())
    entry = next(m for m in entries['Models']
                 if m['Name'] == 'agent-pvt-t_in1k')
    official = tmp_path / 'agent_pvt_t.pth'
    state_dict = get_model('agent-pvt-t_in1k').state_dict()
    torch.save({'model': {  # the official ImageNet layout
        k.replace('backbone.', '', 1).replace('head.fc.', 'head.'): v
        for k, v in state_dict.items()}}, official)
    server = Server({'/agent_pvt_t.pth': official.read_bytes()})
    try:
        metafile.write_text(metafile.read_text().replace(
            entry['Weights'], f'{server.url}/agent_pvt_t.pth'))
        dest = tmp_path / 'dest'
        result = run([osp.join(osp.dirname(sys.executable), 'mim'),
                      'download', 'mmagent', '--config', 'agent-pvt-t_in1k',
                      '--dest', str(dest)],
                     env={'PYTHONPATH': str(target)})
    finally:
        server.stop()
    assert 'Successfully downloaded agent_pvt_t.pth' in result.stdout
    assert (dest / 'agent_pvt_t.pth').read_bytes() == official.read_bytes()
    assert (dest / 'agent-pvt-t_in1k.py').is_file()
    model = get_model('agent-pvt-t_in1k',
                      pretrained=str(dest / 'agent_pvt_t.pth'))
    state = model.state_dict()
    assert_tensors_equal({k: state[k] for k in state_dict}, state_dict)
