"""Segmentation tools end to end on one CPU process: the missing-data
message, training and testing the shipped UperNet and Semantic FPN configs
(SyncBN heads, no edit) at tiny sizes on the synthetic ADE20K-format set,
mIoU with per-class IoU, the demo data generator and the converter."""
import os
import os.path as osp
import re
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import assert_tensors_equal, run, write_official_checkpoint

# end-to-end runs of the tools (subprocesses): `make test-fast` skips them
pytestmark = pytest.mark.slow

FPN_T = 'configs/seg/fpn_agent-pvt-t_40k_ade20k-512x512.py'
FLATTEN_FPN_T = 'configs/seg/fpn_flatten-pvt-t_40k_ade20k-512x512.py'
UPERNET_T = 'configs/seg/upernet_agent-swin-t_160k_ade20k-512x512.py'


def test_generator_writes_ade20k_layout(tiny_ade):
    from mmagent.demo_data import SCENE_CLASSES
    for split, count in (('training', 4), ('validation', 2)):
        images = sorted(os.listdir(osp.join(tiny_ade, 'images', split)))
        labels = sorted(os.listdir(osp.join(tiny_ade, 'annotations', split)))
        assert len(images) == count and all(
            f.endswith('.jpg') for f in images)
        assert [osp.splitext(f)[0] for f in labels] == [
            osp.splitext(f)[0] for f in images]
    train_dir = osp.join(tiny_ade, 'annotations', 'training')
    labels = [cv2.imread(osp.join(train_dir, f), cv2.IMREAD_UNCHANGED)
              for f in sorted(os.listdir(train_dir))]
    assert all(lb.dtype == np.uint8 and lb.shape == (128, 128)
               for lb in labels)
    # 0 = unlabelled clutter (ignored after reduce_zero_label), then classes
    assert all(0 in lb and lb.max() <= len(SCENE_CLASSES) for lb in labels)
    assert len(np.unique(np.concatenate([lb.ravel() for lb in labels]))) > 6
    # deterministic
    from mmagent.demo_data import write_scenes_ade20k
    again = write_scenes_ade20k(str(tiny_ade) + '_again', 4, 2)
    assert again == {'training': 4, 'validation': 2}
    for sub in ('annotations/training', 'annotations/validation'):
        for f in os.listdir(osp.join(tiny_ade, sub)):
            a = cv2.imread(osp.join(tiny_ade, sub, f), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(osp.join(str(tiny_ade) + '_again', sub, f),
                           cv2.IMREAD_UNCHANGED)
            assert np.array_equal(a, b)


def test_shape_classes_keep_their_hue_range():
    """Each shape class is painted in its own hue range (+-25 degrees), so
    the demos' classifiers can learn the classes within CPU minutes."""
    import colorsys

    from mmagent.demo_data.synthetic import SHAPE_HUES, paint_shape
    rng = np.random.default_rng(0)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    for _ in range(20):
        img = np.zeros((32, 32, 3), np.float32)
        paint_shape(rng, img, mask, 'square')  # flat: one colour
        hue = colorsys.rgb_to_hsv(*(img[mask][0] / 255))[0] * 360
        assert abs((hue - SHAPE_HUES['square'] + 180) % 360 - 180) <= 25.01
        assert np.ptp(img[mask], axis=0).max() == 0 and not img[~mask].any()


def test_missing_ade20k_gives_one_clear_message(tmp_path):
    result = run([sys.executable, 'tools/train.py', FPN_T, '--work-dir',
                  str(tmp_path)], check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'ADE20K is expected under data/ade/ADEChallengeData2016' in \
        result.stderr
    assert 'images/training' in result.stderr
    assert not os.listdir(tmp_path)


def tiny_options(root):
    """The shipped config on the tiny set: 64-pixel crops, 2 iterations."""
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options + [
        'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.2.scale=(128,128)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(128,64)',
        'test_dataloader.dataset.pipeline.1.scale=(128,64)',
        'model.data_preprocessor.size=(64,64)',
        'model.backbone.init_cfg=None',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]


@pytest.mark.parametrize('config', [FPN_T, UPERNET_T, FLATTEN_FPN_T])
def test_train_and_test_single_cpu_process(config, tiny_ade, tmp_path):
    """Shipped configs, SyncBN heads included, in one non-distributed CPU
    process: tools/train.py then tools/test.py with mIoU per class."""
    work_dir = str(tmp_path / 'work')
    options = tiny_options(tiny_ade)
    result = run([sys.executable, 'tools/train.py', config, '--work-dir',
                  work_dir, '--cfg-options', *options])
    log = result.stdout + result.stderr
    assert 'Iter(train) [2/2]' in log and 'mIoU' in log
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    out = str(tmp_path / 'pred')
    result = run([sys.executable, 'tools/test.py', config, ckpt,
                  '--work-dir', str(tmp_path / 'test'), '--out', out,
                  '--cfg-options', *options])
    log = result.stdout + result.stderr
    for key in ('mIoU:', 'mAcc:', 'aAcc:', 'per class results'):
        assert key in log
    assert re.search(r'\|\s+wall\s+\|', log)  # a row per ADE20K class
    assert len(os.listdir(out)) == 2  # label maps written by --out


def official_seg_checkpoint(config, path):
    """An mmseg 0.28-style checkpoint with the official key layout."""
    return write_official_checkpoint(
        config, path, 'mmseg',
        {'mmseg_version': '0.28.0', 'config': 'model = dict(...)',
         'CLASSES': ('wall', 'building'),
         'PALETTE': [[120, 120, 120], [180, 120, 120]], 'iter': 40000})


@pytest.mark.parametrize('config', [FPN_T, UPERNET_T])
def test_seg_converter_round_trip(tmp_path, config):
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    keys = official_seg_checkpoint(config, src)
    assert any(k.startswith('decode_head.') for k in keys)
    result = run([sys.executable,
                  'tools/model_converters/official2mmagent.py', str(src),
                  str(dst), '--config', config])
    assert 'loads into' in result.stdout and '0 keys renamed' in result.stdout
    converted = torch.load(dst, weights_only=False)
    assert list(converted['state_dict']) == list(keys)
    meta = converted['meta']['dataset_meta']
    assert meta['classes'] == ('wall', 'building')
    assert meta['palette'] == [(120, 120, 120), (180, 120, 120)]
    original = torch.load(src, weights_only=False)['state_dict']
    assert_tensors_equal(converted['state_dict'],
                         {k: original[k] for k in keys})


def test_get_flops_segmentor():
    result = run([sys.executable, 'tools/analysis_tools/get_flops.py', FPN_T,
                  '--shape', '128', '256'])
    assert 'FLOPs (multiply-accumulates):' in result.stdout
    assert 'params: 15.' in result.stdout
