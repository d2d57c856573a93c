"""Task adapters: a config's default_scope picks one, and it holds what the
tools, the inference API and the demo need for detection, segmentation and
classification."""
import os.path as osp
import re
import textwrap

import numpy as np
import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from mmagent.apis import init_inferencer, model_complexity
from mmagent.tasks import (ClassificationTask, DetectionTask,
                           SegmentationTask, get_task)

CLS_CONFIG = textwrap.dedent("""
    default_scope = 'mmpretrain'
    custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
    model = dict(
        type='ImageClassifier',
        backbone=dict(type='AgentPVT', embed_dims=[16, 32, 40, 64],
                      depths=[1, 1, 1, 1], num_heads=[1, 2, 5, 8],
                      mlp_ratios=[2, 2, 2, 2], out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64))
    data_preprocessor = dict(num_classes=3, mean=[123.675, 116.28, 103.53],
                             std=[58.395, 57.12, 57.375], to_rgb=True)
    test_dataloader = dict(dataset=dict(
        type='CustomDataset', data_root='data/none',
        metainfo=dict(classes=('cat', 'dog', 'fish')),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='Resize', scale=64),
                  dict(type='PackInputs')]))
""")


def test_scope_picks_the_task():
    assert isinstance(get_task(Config(dict(default_scope='mmdet'))),
                      DetectionTask)
    assert isinstance(get_task('mmseg'), SegmentationTask)
    assert isinstance(get_task('mmpretrain'), ClassificationTask)
    with pytest.raises(ValueError, match="unsupported default_scope 'mmocr'"):
        get_task('mmocr')
    for scope, type_name in [('mmdet', 'DetDataSample'),
                             ('mmseg', 'SegDataSample'),
                             ('mmpretrain', 'DataSample')]:
        sample = get_task(scope).data_sample(32, 48)
        assert type(sample).__name__ == type_name
        assert sample.img_shape == (32, 48)


def test_prediction_dump_per_task():
    cfg = Config(dict(test_evaluator=dict(type='CocoMetric')))
    get_task('mmdet').add_prediction_dump(cfg, 'out.pkl')
    assert [m['type'] for m in cfg.test_evaluator] == [
        'CocoMetric', 'DumpDetResults']
    with pytest.raises(SystemExit, match='.pkl'):
        get_task('mmdet').add_prediction_dump(cfg, 'out.json')
    cfg = Config(dict(test_evaluator=dict(type='IoUMetric')))
    get_task('mmseg').add_prediction_dump(cfg, 'maps')
    assert cfg.test_evaluator.output_dir == 'maps'
    cfg = Config(dict(test_evaluator=[dict(type='Accuracy')]))
    get_task('mmpretrain').add_prediction_dump(cfg, 'out.pkl')
    assert cfg.test_evaluator[1] == dict(type='DumpResults',
                                         out_file_path='out.pkl')


def test_tta_needs_config_except_detection():
    with pytest.raises(SystemExit, match='no tta_model'):
        get_task('mmseg').apply_tta(Config(dict(model=dict())))
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'))
    get_task(cfg).apply_tta(cfg)
    assert cfg.model.type == 'DetTTAModel'
    assert cfg.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'


def test_tools_do_not_branch_on_the_task():
    """Task differences live in mmagent.tasks, not in the tools."""
    pattern = re.compile(r"""scope\s*[!=]=|['"]mm(det|seg|pretrain)['"]""")
    for path in ('tools/train.py', 'tools/test.py',
                 'tools/analysis_tools/get_flops.py',
                 'tools/analysis_tools/browse_dataset.py',
                 'tools/analysis_tools/benchmark.py', 'demo/image_demo.py',
                 'mmagent/apis/inference.py', 'mmagent/apis/complexity.py'):
        with open(osp.join(REPO_ROOT, path)) as f:
            assert not pattern.search(f.read()), path


def test_classification_complexity_and_inference(tmp_path):
    config = tmp_path / 'cls.py'
    config.write_text(CLS_CONFIG)
    flops, params, hw = model_complexity(str(config), [64])
    assert hw == (64, 64) and flops > 0 and params > 0
    inferencer = init_inferencer(str(config), device='cpu')
    task = inferencer.task
    assert task.name == 'cls'
    images = [np.random.default_rng(i).integers(0, 255, (40, 56, 3),
                                                dtype=np.uint8)
              for i in range(2)]
    results = task.predict(inferencer, images, 0.3, 0.5)
    assert len(results) == 2
    prediction, picture = results[0]
    # small images are drawn at a 256 short edge, aspect kept
    assert picture.shape[0] == 256 and \
        abs(picture.shape[1] / 256 - 56 / 40) < 0.01
    record = task.prediction_record(inferencer, prediction, 'a.png',
                                    str(tmp_path / 'a'), 0.3)
    assert sorted(record['labels']) == [0, 1, 2]
    assert set(record['label_names']) == {'cat', 'dog', 'fish'}
    assert abs(sum(record['scores']) - 1) < 1e-4
