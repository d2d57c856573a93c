"""Bad configs and arguments: one error each that names the bad value and
what is allowed, before any work."""
import sys

import pytest
from conftest import TINY_PVT, TINY_SWIN, run

from mmagent import AgentPVT, AgentSwinTransformer

SEG_DEMO = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'
DET_DEMO = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'


@pytest.mark.parametrize('cls,kwargs,error,message', [
    (AgentPVT, dict(arch='xl'), ValueError, r"unknown arch 'xl'; choose one "
     r"of \['l', 'large', 'm'"),
    (AgentPVT, dict(attn_type='AAXA'), ValueError,
     r"out of 'A'/'B'/'L'/'S'.*got 'AAXA'"),
    (AgentSwinTransformer, dict(attn_type='AAMB'), ValueError,
     r"'M' followed.*got 'AAMB'"),
    (AgentPVT, dict(out_indices=(1, 4)), ValueError,
     r'subset of 0..3, got \(1, 4\)'),
    (AgentSwinTransformer, dict(frozen_stages=5), ValueError,
     r'frozen_stages must be in \[-1, 4\], got 5'),
    (AgentPVT, dict(agent_num=[9, 16, 48, 49]), ValueError,
     'perfect square.*got 48'),
    (AgentSwinTransformer, dict(drop_path_rate=-1), ValueError,
     r'drop_path_rate must be a probability in \[0, 1\], got -1'),
    (AgentPVT, dict(attn_drop_rate=1.5), ValueError,
     r'attn_drop_rate must be a probability in \[0, 1\], got 1.5'),
    (AgentSwinTransformer, dict(window_size=0), ValueError,
     'window_size must be positive, got 0'),
    (AgentPVT, dict(img_size=0), ValueError,
     r'pretrain_img_size \(img_size\) must be >= 32, got 0'),
    (AgentSwinTransformer, dict(downstream_agent_shapes=[(0, 0)] * 4),
     ValueError, r'downstream_agent_shapes must be positive, got \(0, 0\)'),
    (AgentPVT, dict(downstream_agent_shapes=[7, 7, 7, 7]), ValueError,
     r'an \(a_h, a_w\) pair per stage, got 7'),
    (AgentPVT, dict(kernel_size=4), ValueError,
     'kernel_size must be odd.*got 4'),
    (AgentPVT, dict(depths=[1, 0, 1, 1]), ValueError,
     r'depths must be positive, got \[1, 0, 1, 1\]'),
    (AgentSwinTransformer, dict(windowsize=7), TypeError,
     "unexpected keyword argument 'windowsize'; did you mean window_size"),
    (AgentPVT, dict(attn_cfgs=dict(agnt={})), ValueError,
     r"unknown attention kinds \['agnt'\]; registered: \['agent'"),
])
def test_bad_backbone_argument(cls, kwargs, error, message):
    base = TINY_PVT if cls is AgentPVT else TINY_SWIN
    with pytest.raises(error, match=message):
        cls(**{**base, **kwargs})


def data_options(root, loaders=('train_dataloader', 'val_dataloader')):
    return [f'{loader}.dataset.data_root={root}' for loader in loaders]


@pytest.mark.slow
def test_tools_report_config_errors_before_building(tiny_ade, tmp_path):
    """A misspelled backbone type, a bad backbone argument and a missing
    pretrained checkpoint each give one line, no traceback."""
    cases = [
        (['model.backbone.type=AgentPVt'],
         "model.backbone.type='AgentPVt' is not a registered model; did you "
         'mean AgentPVT'),
        (['model.backbone.window_size=0'], 'unexpected keyword argument'),
        (['model.backbone.drop_path_rate=-0.1'],
         'model.backbone (AgentPVT): drop_path_rate must be a probability'),
    ]
    for options, message in cases:
        result = run([sys.executable, 'tools/train.py', SEG_DEMO,
                      '--work-dir', str(tmp_path), '--cfg-options', *options,
                      *data_options(tiny_ade)], check=False)
        assert result.returncode != 0 and message in result.stderr, options
        assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_detection_demo_alone_says_where_its_backbone_comes_from(tmp_path):
    root = str(tmp_path / 'coco') + '/'
    run([sys.executable, 'tools/misc/make_demo_coco.py', root, '--train',
         '2', '--val', '2'])
    result = run([sys.executable, 'tools/train.py', DET_DEMO, '--work-dir',
                  str(tmp_path / 'work'), '--cfg-options',
                  *data_options(root)], check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'model.backbone.init_cfg: checkpoint not found' in result.stderr
    assert 'model.backbone.init_cfg=None' in result.stderr
    assert not (tmp_path / 'work').exists()  # nothing built


@pytest.mark.slow
def test_pkg_resources_warning_silenced():
    result = run([sys.executable, 'tools/misc/print_config.py', SEG_DEMO])
    assert 'BaseSegDataset' in result.stdout
    assert 'pkg_resources' not in result.stderr


@pytest.mark.parametrize('script,args,message', [
    ('tools/dist_train.sh', [SEG_DEMO, '2'], 'Dataset not found'),
    ('tools/dist_test.sh', [SEG_DEMO, 'missing.pth', '2'],
     'checkpoint not found: '),
])
@pytest.mark.slow
def test_dist_launchers_check_once_before_the_workers(tmp_path, script,
                                                      args, message):
    """Without the data (or the checkpoint) the launchers stop with the one
    message of the single-process tools, once, exit status 1, before
    torchrun starts any worker."""
    env = {'PYTHON': sys.executable, 'PORT': '29541'}
    result = run(['bash', script, *args, '--work-dir', str(tmp_path),
                  '--cfg-options', *data_options(
                      str(tmp_path / 'nowhere'),
                      ('train_dataloader', 'val_dataloader',
                       'test_dataloader'))], check=False, env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-2000:]
    assert out.count(message) == 1, out[-2000:]
    assert 'Traceback' not in out and 'ChildFailedError' not in out
    assert 'torch.distributed' not in out
