"""FLatten detectors and segmentors (mmdet / mmseg): the 8 configs of the
FLatten paper's tables build with its parameter counts, use the FLatten
backbones from the official ImageNet weights on the Agent recipes, are in
the model index with the paper's results, and a detector trains and
predicts on CPU, and runs through tools/train.py and tools/test.py on the
demo data (a segmentor runs through the tools in
tests/test_tools/test_seg_tools.py)."""
import os.path as osp
import sys

import pytest
import torch
import yaml
from conftest import REPO_ROOT, run
from mmengine.config import Config
from mmengine.registry import init_default_scope

# config -> the FLatten paper's #params (M), Tables 1 and 2
PAPER_PARAMS = {
    'det/mask-rcnn_flatten-pvt-t_fpn_1x_coco': 32,
    'det/mask-rcnn_flatten-swin-t_fpn_1x_coco': 49,
    'det/mask-rcnn_flatten-swin-t_fpn_3x_coco': 49,
    'det/cascade-mask-rcnn_flatten-swin-t_fpn_3x_coco': 87,
    'det/cascade-mask-rcnn_flatten-swin-s_fpn_3x_coco': 108,
    'seg/fpn_flatten-pvt-t_40k_ade20k-512x512': 16,
    'seg/upernet_flatten-swin-t_160k_ade20k-512x512': 60,
    'seg/upernet_flatten-swin-s_160k_ade20k-512x512': 82,
}
# UperNet FLatten-Swin-T counts 60.85M: Swin-T's UperNet (59.94M) plus the
# 0.90M of positional encodings that the official FLatten-Swin-T layout
# has (the same +0.90M brings Swin-S's 81.26M to the paper's 82M).
COUNTED_DIFFERENTLY = {'seg/upernet_flatten-swin-t_160k_ade20k-512x512': 61}


def load(name):
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{name}.py'))


def build(cfg):
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', sorted(PAPER_PARAMS))
def test_builds_with_paper_parameter_count(name):
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type in ('FLattenPVT', 'FLattenSwinTransformer')
    assert backbone.init_cfg.checkpoint.startswith('data/pretrained/flatten_')
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    # the Agent recipe of the same backbone: everything but the backbone
    agent = load(name.replace('flatten', 'agent'))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader'):
        assert cfg[key] == agent[key], key
    params = sum(p.numel() for p in build(cfg).parameters()) / 1e6
    expected = COUNTED_DIFFERENTLY.get(name, PAPER_PARAMS[name])
    assert abs(params - expected) <= 0.6, params


def test_model_index():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    names = set()
    for task in ('det', 'seg'):
        path = f'configs/{task}/flatten_metafile.yml'
        assert path in imports
        with open(osp.join(REPO_ROOT, path)) as f:
            for model in yaml.safe_load(f)['Models']:
                names.add(f"{task}/{model['Name']}")
                assert model['Config'] == f"configs/{task}/{model['Name']}.py"
                assert 'Weights' not in model  # none were ever published
    assert names == set(PAPER_PARAMS)


def test_detector_trains_and_predicts_on_cpu():
    """Mask R-CNN FLatten-PVT-T: loss, backward and predict on inputs of
    two sizes (the positional encodings resized to each map)."""
    from mmdet.testing import demo_mm_inputs
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(
        build(load('det/mask-rcnn_flatten-pvt-t_fpn_1x_coco')))
    packed = demo_mm_inputs(2, [[3, 128, 160], [3, 96, 128]],
                            with_mask=True)
    data = model.data_preprocessor(packed, True)
    total, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.block1[0].attn.positional_encoding.grad
    assert grad is not None and torch.isfinite(grad).all()
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    assert len(results) == 2 and hasattr(results[0], 'pred_instances')


def tiny_coco_options(root):
    """The shipped detector on the demo shapes: their 4 classes, 128-pixel
    images, one epoch of 4 iterations."""
    classes = '(circle,square,triangle,cross)'
    options = ['model.backbone.init_cfg=None',
               'model.roi_head.bbox_head.num_classes=4',
               'model.roi_head.mask_head.num_classes=4',
               'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
               'default_hooks.logger.interval=1',
               'train_dataloader.dataset.pipeline.2.scale=(160,128)']
    for loader, split in (('train', 'train'), ('val', 'val'),
                          ('test', 'val')):
        options += [f'{loader}_dataloader.dataset.data_root={root}',
                    f'{loader}_dataloader.dataset.ann_file='
                    f'annotations/instances_{split}.json',
                    f'{loader}_dataloader.dataset.data_prefix.img={split}/',
                    f'{loader}_dataloader.dataset.metainfo.classes={classes}',
                    f'{loader}_dataloader.num_workers=0',
                    f'{loader}_dataloader.persistent_workers=False']
    for loader in ('val', 'test'):
        options += [
            f'{loader}_dataloader.dataset.pipeline.1.scale=(160,128)',
            f'{loader}_evaluator.ann_file={root}'
            'annotations/instances_val.json']
    return options


@pytest.mark.slow
def test_detector_trains_and_evaluates_through_the_tool(tiny_coco, tmp_path):
    """Mask R-CNN FLatten-PVT-T as shipped (its padding-aware detector),
    through tools/train.py: 4 iterations, then the COCO evaluation of its
    validation loop (tools/test.py and --out are tested on the Agent
    detector, test_det_tools.py)."""
    config = 'configs/det/mask-rcnn_flatten-pvt-t_fpn_1x_coco.py'
    options = tiny_coco_options(tiny_coco)
    work_dir = tmp_path / 'work'
    result = run([sys.executable, 'tools/train.py', config, '--work-dir',
                  str(work_dir), '--cfg-options', *options])
    log = result.stdout + result.stderr
    assert "type='FLattenPVT'" in log and 'PaddingAwareMaskRCNN' in log
    assert 'Epoch(train) [1][4/4]' in log
    assert 'coco/bbox_mAP:' in log and 'coco/segm_mAP:' in log
    assert (work_dir / 'epoch_1.pth').is_file()
