"""The benchmark tools run end to end (speed itself is not asserted)."""
import sys
import textwrap

import pytest
from conftest import run

# end-to-end runs of the tools (subprocesses): `make test-fast` skips them
pytestmark = pytest.mark.slow


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
    assert 'bivit-swin-t deploy/binary: time' in row


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


def load_benchmark_backbone():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'benchmark_backbone', 'tools/analysis_tools/benchmark_backbone.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_backbone_json_and_readme_tables(tmp_path):
    """--json keeps every figure; the README suite's markdown renderer
    puts each row next to its softmax baseline."""
    import json
    path = tmp_path / 'figures.json'
    run_tool('tools/analysis_tools/benchmark_backbone.py', '--models',
             'agent-swin-t', 'mmdet-swin-t', '--shapes', '64x64',
             '--repeats', '1', '--no-exact', '--json', str(path))
    figures = json.loads(path.read_text())
    assert figures['malloc'] == 'cached' and figures['mode'] == 'inference'
    rows = {r['model']: r for r in figures['results']}
    assert set(rows) == {'agent-swin-t fast', 'mmdet-swin-t'}
    assert all(r['seconds'] > 0 and r['peak_bytes'] > 0
               for r in rows.values())
    table = load_benchmark_backbone().markdown_table(figures['results'])
    agent_row = next(line for line in table.splitlines()
                     if line.startswith('| agent-swin-t fast'))
    ratio = rows['mmdet-swin-t']['seconds'] / rows['agent-swin-t fast'][
        'seconds']
    assert f'mmdet-swin-t: {ratio:.2f}x' in agent_row


def test_benchmark_training_step_against_a_baseline_config(tmp_path):
    """--mode train runs the config's train pipeline on synthetic images
    and its optimizer; --baseline times an OpenMMLab package's config."""
    import json
    path = tmp_path / 'figures.json'
    out = run_tool('tools/analysis_tools/benchmark.py',
                   'configs/cls/demo/agent-pvt-mini_demo-shapes.py',
                   '--mode', 'train', '--shape', '64', '64', '--repeats',
                   '1', '--batch-size', '2', '--baseline',
                   'mmpretrain::deit/deit-tiny_4xb256_in1k.py', '--json',
                   str(path))
    assert 'train: 64x64 images, batch 2' in out
    assert 'baseline/fast time ratio' in out
    assert 'mmpretrain::deit/deit-tiny_4xb256_in1k.py' in out
    # the README suite's whole-model table from the JSON figures
    figures = json.loads(path.read_text())
    seconds = {r['name']: r['seconds'] for r in figures['results']}
    table = load_benchmark_backbone().whole_model_table([figures])
    row = next(line for line in table.splitlines()
               if 'agent-pvt-mini' in line)
    assert f'{seconds["baseline"] / seconds["fast"]:.2f}x' in row


def test_readme_suite_names_configs_that_load():
    """Every whole-model run of --suite readme names configs that exist
    and load (package:: baselines included)."""
    from mmagent.utils.config import load_config
    module = load_benchmark_backbone()
    whole = [run for run in module.README_SUITE if run[3:] == (
        'benchmark.py', )]
    assert len(whole) >= 14
    for key, _, argv, _ in whole:
        configs = [argv[0]] + [argv[i + 1] for i, a in enumerate(argv)
                               if a == '--baseline']
        for config in configs:
            assert load_config(config).model, (key, config)


@pytest.mark.parametrize('config', [
    'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py',
    'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'])
def test_benchmark_training_step_of_dense_configs(config):
    """Synthetic boxes, polygon masks and label maps go through the
    detector's and segmentor's own train pipelines and losses."""
    out = run_tool('tools/analysis_tools/benchmark.py', config, '--mode',
                   'train', '--shape', '96', '128', '--repeats', '1',
                   '--cfg-options', 'model.backbone.init_cfg=None')
    assert 'train: 96x128 images, batch 1' in out and 'img/s' in out


@pytest.mark.parametrize('kind,stages,parts', [('agent', 3, 7),
                                               ('focused', 2, 6)])
def test_profile_attention_tables(kind, stages, parts):
    """profile_attention.py prints one row per stage, every part timed,
    for agent and focused linear attention."""
    out = run_tool('tools/analysis_tools/profile_attention.py', '--shape',
                   '96', '128', '--repeats', '1', '--mode', 'train',
                   '--kind', kind)
    rows = [line for line in out.splitlines()
            if line.startswith('| ') and line[2].isdigit()]
    assert len(rows) == stages
    for row in rows:
        times = [float(cell) for cell in row.strip(' |').split(' | ')[2:]]
        assert len(times) == parts and times[0] > 0  # the whole module
