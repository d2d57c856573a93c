"""Classification tools end to end on one CPU process, on the demo data:
the ImageNet-layout generator, the classification demo config through
tools/train.py, tools/test.py (top-1, top-5) and demo/image_demo.py (top-5
with class names in JSON, a picture)."""
import colorsys
import json
import os
import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, run
from mmengine.config import Config

# end-to-end runs of the tools (subprocesses): `make test-fast` skips them
pytestmark = pytest.mark.slow

DEMO_CONFIG = 'configs/cls/demo/agent-pvt-mini_demo-shapes.py'
BIVIT_DEMO_CONFIG = 'configs/cls/demo/bivit-agent-pvt-mini_demo-shapes.py'


@pytest.fixture(scope='module')
def tiny_imagenet(tmp_path_factory):
    """2 training and 1 validation image per class of the demo
    generator."""
    root = str(tmp_path_factory.mktemp('demo_imagenet'))
    result = run([sys.executable, 'tools/misc/make_demo_imagenet.py', root,
                  '--train', '2', '--val', '1'])
    assert 'train: 24 images, 12 classes' in result.stdout
    return root


def test_generator_writes_imagenet_layout(tiny_imagenet):
    from mmagent.demo_data import (SHAPE_IMAGENET_CLASSES,
                                   write_shapes_imagenet)
    from mmagent.demo_data.shapes_imagenet import HUES
    for split, count in (('train', 2), ('val', 1)):
        folders = sorted(os.listdir(osp.join(tiny_imagenet, split)))
        assert tuple(folders) == SHAPE_IMAGENET_CLASSES
        for label in folders:
            files = sorted(os.listdir(osp.join(tiny_imagenet, split, label)))
            assert files == [f'{label}_{i:04d}.JPEG' for i in range(count)]
            img = cv2.imread(osp.join(tiny_imagenet, split, label, files[0]))
            assert img.shape == (64, 64, 3)
            # the shape covers the centre, in its colour family's hues
            b, g, r = img[28:36, 28:36].reshape(-1, 3).mean(0) / 255
            hue = colorsys.rgb_to_hsv(r, g, b)[0] * 360
            target = HUES[label.split('_')[0]]
            assert abs((hue - target + 180) % 360 - 180) <= 40, (label, hue)
    # mmpretrain numbers a folder dataset's labels in sorted folder order:
    # the config's class names must follow it, or predictions are misnamed
    cfg = Config.fromfile(osp.join(REPO_ROOT, DEMO_CONFIG))
    assert tuple(cfg.classes) == SHAPE_IMAGENET_CLASSES == tuple(
        sorted(SHAPE_IMAGENET_CLASSES))
    # deterministic
    again = str(tiny_imagenet) + '_again'
    assert write_shapes_imagenet(again, 2, 1) == {'train': 24, 'val': 12}
    for label in SHAPE_IMAGENET_CLASSES:
        name = f'train/{label}/{label}_0001.JPEG'
        assert np.array_equal(cv2.imread(osp.join(tiny_imagenet, name)),
                              cv2.imread(osp.join(again, name)))


def one_epoch_on(data_root, *extra):
    """--cfg-options for one epoch of the demo config on ``data_root``,
    in this process's workers only."""
    options = ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
               *extra]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def test_demo_classifier_trains_tests_and_paints(tiny_imagenet, tmp_path):
    """The demo config (the Agent-PVT classifier config underneath) through
    the user-facing tools, one epoch on the tiny set; then the BiViT demo
    stage from that checkpoint."""
    options = one_epoch_on(tiny_imagenet,
                           'default_hooks.checkpoint.interval=1')
    work_dir = str(tmp_path / 'work')
    result = run([sys.executable, 'tools/train.py', DEMO_CONFIG,
                  '--work-dir', work_dir, '--cfg-options', *options])
    assert 'Epoch(train) [1][1/1]' in result.stdout + result.stderr
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)

    result = run([sys.executable, 'tools/test.py', DEMO_CONFIG, ckpt,
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                  *options])
    log = result.stdout + result.stderr
    assert 'accuracy/top1:' in log and 'accuracy/top5:' in log

    image = osp.join(tiny_imagenet, 'val/red_cross/red_cross_0000.JPEG')
    out = tmp_path / 'pictures'
    run([sys.executable, 'demo/image_demo.py', image, DEMO_CONFIG,
         '--weights', ckpt, '--out-dir', str(out)])
    assert (out / 'vis' / 'red_cross_0000.png').is_file()
    pred = json.loads((out / 'preds' / 'red_cross_0000.json').read_text())
    from mmagent.demo_data import SHAPE_IMAGENET_CLASSES
    assert len(pred['labels']) == len(pred['scores']) == 5
    assert pred['scores'] == sorted(pred['scores'], reverse=True)
    assert pred['label_names'] == [SHAPE_IMAGENET_CLASSES[i]
                                   for i in pred['labels']]

    # the BiViT stage: that model binarized, distilled from itself
    bivit_dir = str(tmp_path / 'bivit')
    result = run([sys.executable, 'tools/train.py', BIVIT_DEMO_CONFIG,
                  '--work-dir', bivit_dir, '--cfg-options', *options,
                  f'load_from={ckpt}', f'model.teacher_checkpoint={ckpt}'])
    log = result.stdout + result.stderr
    assert 'loss_distill:' in log and 'Epoch(train) [1][1/1]' in log
    top1 = []
    # deploy mode (int8 GEMMs) on the same checkpoint: the same predictions
    for extra in ([], ['model.backbone.deploy=True']):
        result = run([sys.executable, 'tools/test.py', BIVIT_DEMO_CONFIG,
                      osp.join(bivit_dir, 'epoch_1.pth'), '--work-dir',
                      str(tmp_path / 'bivit_test'), '--cfg-options',
                      *options, *extra])
        top1.append(re.search(r'accuracy/top1: ([\d.]+)',
                              result.stdout + result.stderr).group(1))
    assert top1[0] == top1[1]


def test_train_and_test_compile(tiny_imagenet, tmp_path):
    """--compile compiles the backbone in both tools (static shapes; the
    config's compile options on top, here the quick aot_eager backend),
    and training and testing run through it."""
    options = one_epoch_on(tiny_imagenet, 'compile.backend=aot_eager')
    work_dir = str(tmp_path / 'work')
    result = run([sys.executable, 'tools/train.py', DEMO_CONFIG, '--compile',
                  '--work-dir', work_dir, '--cfg-options', *options])
    log = result.stdout + result.stderr
    compiled = ("backbone compiled (torch.compile, {'dynamic': False, "
                "'backend': 'aot_eager'})")
    assert compiled in log and 'Epoch(train) [1][1/1]' in log
    result = run([sys.executable, 'tools/test.py', DEMO_CONFIG,
                  osp.join(work_dir, 'epoch_1.pth'), '--compile',
                  '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                  *options])
    log = result.stdout + result.stderr
    assert compiled in log and 'accuracy/top1:' in log
