"""The benchmark tools run end to end (speed itself is not asserted)."""
import sys
import textwrap

from conftest import run


def run_tool(*args, timeout=600):
    return run([sys.executable, *args], timeout=timeout).stdout


def test_benchmark_backbone_prints_ratios():
    out = run_tool('tools/analysis_tools/benchmark_backbone.py', '--models',
                   'agent-pvt-s', 'mmdet-pvt-s', '--shapes', '64x96',
                   '--repeats', '1', '--dtypes', 'fp32', 'bf16')
    assert 'agent-pvt-s exact/fast: time' in out
    assert 'mmdet-pvt-s/fast: time' in out and 'memory' in out
    assert out.count('agent-pvt-s fast') == 2  # fp32 and bf16 rows


def test_benchmark_backbone_compares_flatten_agent_softmax():
    out = run_tool('tools/analysis_tools/benchmark_backbone.py', '--models',
                   'flatten-pvt-t', 'agent-pvt-t', 'mmdet-pvt-t', '--shapes',
                   '64x96', '--repeats', '1', '--no-memory')
    row = next(line for line in out.splitlines()
               if line.startswith('flatten-pvt-t fast'))
    for ratio in ('flatten-pvt-t exact/fast: time',
                  'agent-pvt-t/fast: time', 'mmdet-pvt-t/fast: time'):
        assert ratio in row


def test_benchmark_backbone_bivit_against_full_precision():
    out = run_tool('tools/analysis_tools/benchmark_backbone.py', '--models',
                   'bivit-swin-t', 'swin-t', '--shapes', '64x64',
                   '--repeats', '1', '--no-memory')
    row = next(line for line in out.splitlines()
               if line.startswith('bivit-swin-t binary'))
    assert 'swin-t/binary: time' in row


def test_benchmark_backbone_train_mode():
    out = run_tool('tools/analysis_tools/benchmark_backbone.py', '--models',
                   'agent-swin-t', '--shapes', '64x64', '--repeats', '1',
                   '--mode', 'train', '--no-memory')
    assert 'mode train' in out and 'agent-swin-t exact/fast' in out


def test_benchmark_whole_detector_and_segmentor(tmp_path):
    det = tmp_path / 'det.py'
    det.write_text(textwrap.dedent("""
        _base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
        default_scope = 'mmdet'
        custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
        model = dict(
            backbone=dict(_delete_=True, type='AgentPVT', arch='t'),
            neck=dict(in_channels=[64, 128, 320, 512]))
    """))
    seg = tmp_path / 'seg.py'
    seg.write_text(textwrap.dedent("""
        _base_ = 'mmseg::_base_/models/fpn_r50.py'
        default_scope = 'mmseg'
        custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
        model = dict(
            pretrained=None,
            data_preprocessor=dict(size=(128, 128)),
            backbone=dict(_delete_=True, type='AgentSwinTransformer',
                          arch='t'),
            neck=dict(in_channels=[96, 192, 384, 768]),
            decode_head=dict(norm_cfg=dict(type='BN', requires_grad=True)))
    """))
    for config in (det, seg):
        out = run_tool('tools/analysis_tools/benchmark.py', str(config),
                       '--shape', '128', '160', '--repeats', '1',
                       '--compare-exact')
        assert 'img/s' in out and 'exact/fast time ratio' in out
