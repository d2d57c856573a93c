"""Bad data costs nothing: a truncated image, a missing label map and a
label map with values outside the classes, met in the middle of a run, are
skipped with a message naming the file (or stop the run after a
checkpoint); missing referenced files are reported before anything is
built."""
import glob
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest
from conftest import run

SEG_DEMO = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'


@pytest.fixture
def damaged_ade(tiny_ade, tmp_path):
    """A copy of the tiny set with two bad training samples."""
    root = str(tmp_path / 'ade')
    shutil.copytree(tiny_ade, root)
    images = osp.join(root, 'images', 'training')
    labels = osp.join(root, 'annotations', 'training')
    names = sorted(osp.splitext(f)[0] for f in os.listdir(images))
    jpg = osp.join(images, names[0] + '.jpg')
    data = open(jpg, 'rb').read()
    with open(jpg, 'wb') as f:
        f.write(data[:len(data) // 4])  # truncated image
    label = cv2.imread(osp.join(labels, names[1] + '.png'),
                       cv2.IMREAD_UNCHANGED)
    label[::4] = 200  # not a class (every 4th row: in any crop)
    cv2.imwrite(osp.join(labels, names[1] + '.png'), label)
    return root, [jpg, osp.join(labels, names[1] + '.png')]


def options(root):
    opts = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'train_cfg.val_begin=3', 'train_dataloader.batch_size=2',
            'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=2',
            'model.data_preprocessor.size=(64,64)',
            'train_dataloader.dataset.pipeline.3.crop_size=(64,64)']
    for loader in ('train_dataloader', 'val_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


@pytest.mark.slow
def test_bad_samples_skipped_with_their_files(damaged_ade, tmp_path):
    root, bad = damaged_ade
    result = run([sys.executable, 'tools/train.py', SEG_DEMO, '--work-dir',
                  str(tmp_path / 'work'), '--full-data-scan',
                  '--cfg-options', *options(root)], check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'Iter(train) [2/2]' in log
    skipped = [line for line in log.splitlines() if '-> skipped' in line]
    assert skipped
    assert any(bad[0] in line and 'image' in line.lower()
               for line in skipped)
    assert any(bad[1] in line and '[199]' in line and 'outside the 13 '
               'classes' in line for line in skipped)


def test_file_deleted_mid_run_is_skipped(tiny_ade, tmp_path):
    """The guard itself, in process: an image deleted after the dataset
    was built (FileNotFoundError in the pipeline) is skipped."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmagent.datasets import BadSampleError, BadSampleGuard
    root = str(tmp_path / 'ade')
    shutil.copytree(tiny_ade, root)
    cfg = Config.fromfile(SEG_DEMO).train_dataloader.dataset
    cfg.data_root = root
    cfg.pipeline[3].crop_size = (64, 64)
    with DefaultScope.overwrite_default_scope('mmseg'):
        guard = BadSampleGuard(cfg, scope='mmseg')
        stopper = BadSampleGuard(cfg, scope='mmseg', on_bad_sample='stop')
    gone = guard.get_data_info(0)['img_path']
    os.remove(gone)
    sample = guard[0]  # the next sample instead
    assert sample['data_samples'].img_path != gone
    assert guard.skipped == 1
    with pytest.raises(BadSampleError, match=f'{gone}.*FileNotFoundError'
                       '|FileNotFoundError.*' + gone):
        stopper[0]


@pytest.mark.slow
def test_bad_sample_can_stop_after_a_checkpoint(damaged_ade, tmp_path):
    root, bad = damaged_ade
    work_dir = str(tmp_path / 'work')
    result = run([sys.executable, 'tools/train.py', SEG_DEMO, '--work-dir',
                  work_dir, '--on-bad-sample', 'stop', '--cfg-options',
                  *options(root), 'train_dataloader.num_workers=1'],
                 check=False)
    assert result.returncode != 0
    assert 'stopped: bad sample' in result.stderr
    assert any(path in result.stderr for path in bad)
    assert 'Traceback' not in result.stderr.split('stopped: ')[-1]
    # the iteration depends on where the shuffled sampler put it
    saved = glob.glob(osp.join(work_dir, 'bad_sample_iter_*.pth'))
    assert len(saved) == 1 and f'Saved {saved[0]}' in result.stderr


@pytest.mark.slow
def test_missing_referenced_files_reported_first(tiny_ade, tmp_path):
    root = str(tmp_path / 'ade')
    shutil.copytree(tiny_ade, root)
    labels = osp.join(root, 'annotations', 'validation')
    gone = osp.join(labels, sorted(os.listdir(labels))[0])
    os.remove(gone)
    result = run([sys.executable, 'tools/train.py', SEG_DEMO, '--work-dir',
                  str(tmp_path / 'work'), '--cfg-options', *options(root)],
                 check=False)
    assert result.returncode != 0
    assert ('val_dataloader: 1 of the 2 records checked (of 2) reference '
            'files that do not exist') in result.stderr
    assert gone in result.stderr and 'Traceback' not in result.stderr
    assert not osp.exists(tmp_path / 'work' / 'vis_data')  # nothing built


def test_check_sample_per_task():
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData, PixelData
    from mmseg.structures import SegDataSample

    from mmagent.tasks import get_task

    class Dataset:
        metainfo = dict(classes=('a', 'b', 'c'))
        ignore_index = 255

    seg = SegDataSample(gt_sem_seg=PixelData(
        data=torch.tensor([[[0, 2, 255]]])))
    assert get_task('mmseg').check_sample(dict(data_samples=seg),
                                          Dataset()) is None
    seg.gt_sem_seg.data[0, 0, 0] = 3
    assert '[3] are outside the 3 classes' in get_task(
        'mmseg').check_sample(dict(data_samples=seg), Dataset())
    det = DetDataSample(gt_instances=InstanceData(
        bboxes=torch.tensor([[0., 0., 4., 4.], [2., 2., 2., 5.]])))
    assert 'has no area' in get_task('mmdet').check_sample(
        dict(data_samples=det), Dataset())
    det.gt_instances.bboxes[1] = torch.tensor([0., 0., np.nan, 1.])
    assert 'non-finite' in get_task('mmdet').check_sample(
        dict(data_samples=det), Dataset())


@pytest.mark.slow
def test_degenerate_coco_annotations_named(tmp_path):
    """mmdet drops a box under one pixel or a 2-point polygon silently; the
    data check names the file and the annotation before training."""
    import json
    root = str(tmp_path / 'coco')
    run([sys.executable, 'tools/misc/make_demo_coco.py', root, '--train',
         '4', '--val', '2'])
    ann_file = osp.join(root, 'annotations', 'instances_train.json')
    coco = json.load(open(ann_file))
    coco['annotations'][0]['bbox'][2] = 0.5
    coco['annotations'][1]['segmentation'] = [[1, 1, 5, 5]]
    json.dump(coco, open(ann_file, 'w'))
    first, second = coco['annotations'][:2]
    files = {img['id']: img['file_name'] for img in coco['images']}
    result = run([sys.executable, 'tools/analysis_tools/browse_dataset.py',
                  'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py',
                  '--not-show', '--max-images', '1', '--output-dir',
                  str(tmp_path / 'vis'), '--cfg-options',
                  f'train_dataloader.dataset.data_root={root}/'])
    assert f'{ann_file}: mmdet ignores 2 degenerate annotations' in \
        result.stdout
    assert (f'{files[first["image_id"]]}, annotation id {first["id"]}: bbox'
            in result.stdout)
    assert (f'{files[second["image_id"]]}, annotation id {second["id"]}: '
            f'a polygon has fewer than 3 points') in result.stdout
