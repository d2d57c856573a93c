"""Inference on custom images: model names, robust image reading, the
inferencers with our configs, demo/image_demo.py end to end (bad files,
official checkpoints, pictures)."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, run
from PIL import Image

from mmagent.utils.image_io import ImageLoadError, collect_images, load_image
from mmagent.utils.model_zoo import model_index, resolve_config

DET_DEMO = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'
SEG_DEMO = 'configs/seg/demo/fpn_agent-pvt-t_demo-scenes.py'


def test_model_names_resolve_through_the_model_index():
    models = model_index()
    # cls, det, seg: Agent + FLatten + BiViT
    assert len(models) == 18 + 17 + 4 + 16 + 5 + 2 + 7 + 3
    path = resolve_config('mask-rcnn_agent-pvt-t_fpn_1x_coco')
    assert path == osp.join(REPO_ROOT, 'configs/det/'
                            'mask-rcnn_agent-pvt-t_fpn_1x_coco.py')
    assert resolve_config(DET_DEMO) == DET_DEMO  # paths pass through
    with pytest.raises(FileNotFoundError, match='Did you mean '
                       'mask-rcnn_agent-pvt-t_fpn_1x_coco'):
        resolve_config('mask-rcnn_agent-pvt-t_fpn_1x_cooc')


# ------------------------------------------------------------------ images
def write_inputs(folder):
    """One file of each kind a user may have; returns {kind: path}."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    files = {}
    files['gray'] = str(folder / 'gray.png')
    Image.fromarray(rgb[..., 0]).save(files['gray'])
    files['rgba'] = str(folder / 'rgba.png')
    rgba = np.dstack([rgb, np.full((48, 64), 255, np.uint8)])
    rgba[:, :32, 3] = 0  # left half transparent
    Image.fromarray(rgba, 'RGBA').save(files['rgba'])
    files['16bit'] = str(folder / 'sixteen.png')
    cv2.imwrite(files['16bit'], rgb[..., ::-1].astype(np.uint16) * 257)
    files['exif'] = str(folder / 'rotated.jpg')
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    Image.fromarray(rgb).save(files['exif'], exif=exif, quality=95)
    files['panorama'] = str(folder / 'panorama.png')
    cv2.imwrite(files['panorama'], np.tile(rgb[:1, :1], (300, 20000, 1)))
    files['tiny'] = str(folder / 'tiny.png')
    cv2.imwrite(files['tiny'], rgb[:16, :16])
    files['empty'] = str(folder / 'empty.jpg')
    open(files['empty'], 'wb').close()
    files['corrupt'] = str(folder / 'corrupt.png')
    with open(files['16bit'], 'rb') as f:
        head = f.read(200)  # a PNG cut short
    with open(files['corrupt'], 'wb') as f:
        f.write(head)
    return files, rgb


def test_load_image_handles_what_users_have(tmp_path):
    files, rgb = write_inputs(tmp_path)
    bgr = rgb[..., ::-1]
    gray = load_image(files['gray'])
    assert gray.shape == (48, 64, 3) and gray.dtype == np.uint8
    assert np.array_equal(gray[..., 0], rgb[..., 0])
    rgba = load_image(files['rgba'])
    assert (rgba[:, :32] == 255).all()  # transparent -> white
    assert np.array_equal(rgba[:, 32:], bgr[:, 32:])
    sixteen = load_image(files['16bit'])
    assert np.array_equal(sixteen, bgr)  # scaled back to 8 bits
    rotated = load_image(files['exif'])
    assert rotated.shape == (64, 48, 3)  # EXIF orientation applied
    assert load_image(files['panorama']).shape == (300, 20000, 3)
    assert load_image(files['tiny']).shape == (16, 16, 3)
    with pytest.raises(ImageLoadError, match='empty.jpg: empty file'):
        load_image(files['empty'])
    with pytest.raises(ImageLoadError, match='corrupt.png: not a readable'):
        load_image(files['corrupt'])


def test_collect_images(tmp_path):
    files, _ = write_inputs(tmp_path)
    (tmp_path / 'notes.txt').write_text('not an image')
    from_folder = collect_images([str(tmp_path)])
    assert sorted(from_folder) == sorted(files.values())
    assert collect_images([str(tmp_path / '*.jpg')]) == sorted(
        [files['empty'], files['exif']])
    with pytest.raises(FileNotFoundError, match='no image found'):
        collect_images([str(tmp_path / 'nothing*.png')])


# -------------------------------------------------------------- inferencers
def fixed_weight_detector(path, official=False):
    """The demo detector with random weights except a classifier bias that
    makes every RoI a confident 'square': boxes and masks get drawn."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, DET_DEMO))
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    bias = state['roi_head.bbox_head.fc_cls.bias']
    bias.zero_()
    bias[1] = 12.0
    classes = ('circle', 'square', 'triangle', 'cross')
    if official:  # mmdet 2.25 layout: CLASSES in meta, optimizer state
        ckpt = dict(meta=dict(mmdet_version='2.25.2', CLASSES=classes,
                              config='model = dict(...)'),
                    state_dict=state, optimizer=dict(state={}))
    else:
        ckpt = dict(meta=dict(dataset_meta=dict(classes=classes)),
                    state_dict=state)
    torch.save(ckpt, path)
    return path


def test_det_inferencer_with_our_config(tmp_path):
    from mmdet.apis import DetInferencer
    weights = fixed_weight_detector(str(tmp_path / 'det.pth'))
    inferencer = DetInferencer(model=osp.join(REPO_ROOT, DET_DEMO),
                               weights=weights, device='cpu',
                               show_progress=False)
    from mmagent.demo_data.synthetic import make_shapes_image
    rgb, _ = make_shapes_image(np.random.default_rng(0), (128, 128), 3)
    img = np.ascontiguousarray(rgb[..., ::-1])  # a demo image, BGR
    out = inferencer(img, return_vis=True, pred_score_thr=0.3)
    pred = out['predictions'][0]
    assert len(pred['scores']) > 0 and min(pred['scores']) > 0.3
    assert set(pred['labels']) == {1}
    vis = out['visualization'][0]
    assert vis.shape == img.shape
    changed = (np.abs(vis.astype(int) - img[..., ::-1]).sum(-1) > 30).mean()
    assert changed > 0.05  # boxes and masks drawn, not a copy of the input


def test_seg_inferencer_with_our_config():
    from mmseg.apis import MMSegInferencer
    inferencer = MMSegInferencer(model=osp.join(REPO_ROOT, SEG_DEMO),
                                 device='cpu')
    img = np.full((96, 160, 3), 120, np.uint8)
    out = inferencer(img, return_vis=True)
    labels = out['predictions']  # one image: unwrapped by mmseg
    assert labels.shape == (96, 160) and int(labels.max()) < 13
    assert out['visualization'].shape == (96, 160, 3)


def run_demo(args):
    return run([sys.executable, 'demo/image_demo.py', *args], check=False)


@pytest.mark.slow
def test_image_demo_detection_official_weights_and_bad_files(tmp_path):
    inputs = tmp_path / 'inputs'
    inputs.mkdir()
    files, _ = write_inputs(inputs)
    weights = fixed_weight_detector(str(tmp_path / 'official.pth'),
                                    official=True)
    out_dir = tmp_path / 'out'
    result = run_demo([str(inputs), DET_DEMO, '--weights', weights,
                       '--out-dir', str(out_dir), '--device', 'cpu',
                       '--batch-size', '2'])
    log = result.stdout + result.stderr
    assert result.returncode == 1, log  # two bad files
    assert 'converted the official checkpoint' in log
    assert (out_dir / 'converted' / 'official_mmagent.pth').is_file()
    assert 'Traceback' not in log
    assert f'error: {files["empty"]}: empty file' in log
    assert f'error: {files["corrupt"]}: not a readable image' in log
    assert '6 of 8 images done' in log
    for kind in ('gray', 'rgba', '16bit', 'exif', 'panorama', 'tiny'):
        stem = osp.splitext(osp.basename(files[kind]))[0]
        vis = cv2.imread(str(out_dir / 'vis' / f'{stem}.png'))
        assert vis is not None, kind
        record = json.loads((out_dir / 'preds' / f'{stem}.json').read_text())
        assert record['img_path'] == files[kind]
        assert len(record['bboxes']) == len(record['label_names'])
    record = json.loads((out_dir / 'preds' / 'tiny.json').read_text())
    assert 'square' in record['label_names']
    # the vis keeps the input's size (EXIF-rotated: 64 rows, 48 columns)
    assert cv2.imread(str(out_dir / 'vis' / 'rotated.png')).shape == (64, 48,
                                                                      3)


@pytest.mark.slow
def test_image_demo_segmentation_by_glob_without_weights(tmp_path):
    img = np.zeros((64, 96, 3), np.uint8)
    img[:32] = (235, 206, 135)
    cv2.imwrite(str(tmp_path / 'a.jpg'), img)
    cv2.imwrite(str(tmp_path / 'b.jpg'), img[:, ::-1])
    result = run_demo([str(tmp_path / '*.jpg'), SEG_DEMO, '--out-dir',
                       str(tmp_path / 'out'), '--device', 'cpu'])
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert 'RANDOMLY INITIALISED' in log
    assert '2 of 2 images done' in log
    record = json.loads((tmp_path / 'out/preds/a.json').read_text())
    label = cv2.imread(record['sem_seg_path'], cv2.IMREAD_UNCHANGED)
    assert label.shape == (64, 96) and label.max() < 13
    assert abs(sum(record['class_fractions'].values()) - 1) < 1e-3
    vis = cv2.imread(str(tmp_path / 'out/vis/a.png'))
    assert vis.shape == (64, 96, 3) and not np.array_equal(vis, img)


@pytest.mark.slow
def test_image_demo_refuses_imagenet_checkpoint(tmp_path):
    ckpt = tmp_path / 'agent_pvt_t.pth'
    torch.save({'model': {'patch_embed1.proj.weight': torch.zeros(1)}}, ckpt)
    result = run_demo([osp.join(REPO_ROOT, 'README.md'), DET_DEMO,
                       '--weights', str(ckpt), '--out-dir',
                       str(tmp_path / 'out')])
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'ImageNet backbone checkpoint' in result.stderr
    assert not os.path.exists(tmp_path / 'out' / 'vis')
