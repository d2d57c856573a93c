"""The paper's 16 COCO detectors: names, recipes, parameter counts, metafile,
and a training step of each detector type on CPU."""
import glob
import os.path as osp

import pytest
import torch
import yaml
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

DET_DIR = osp.join(REPO_ROOT, 'configs', 'det')
# paper's #params (M) per model
PAPER_PARAMS = {
    'mask-rcnn_agent-pvt-t_fpn_1x_coco': 31,
    'mask-rcnn_agent-pvt-s_fpn_1x_coco': 40,
    'mask-rcnn_agent-pvt-m_fpn_1x_coco': 56,
    'mask-rcnn_agent-pvt-l_fpn_1x_coco': 68,
    'retinanet_agent-pvt-t_fpn_1x_coco': 21,
    'retinanet_agent-pvt-s_fpn_1x_coco': 30,
    'retinanet_agent-pvt-m_fpn_1x_coco': 46,
    'retinanet_agent-pvt-l_fpn_1x_coco': 58,
    'mask-rcnn_agent-swin-t_fpn_1x_coco': 48,
    'mask-rcnn_agent-swin-t_fpn_3x_coco': 48,
    'mask-rcnn_agent-swin-s_fpn_1x_coco': 69,
    'mask-rcnn_agent-swin-s_fpn_3x_coco': 69,
    'cascade-mask-rcnn_agent-swin-t_fpn_1x_coco': 86,
    'cascade-mask-rcnn_agent-swin-t_fpn_3x_coco': 86,
    'cascade-mask-rcnn_agent-swin-s_fpn_3x_coco': 107,
    'cascade-mask-rcnn_agent-swin-b_fpn_3x_coco': 145,
}
# official drop-path rates, as irregular as upstream
DROP_PATH = {
    'mask-rcnn_agent-pvt-t': 0.1, 'mask-rcnn_agent-pvt-s': 0.2,
    'mask-rcnn_agent-pvt-m': 0.1, 'mask-rcnn_agent-pvt-l': 0.2,
    'retinanet_agent-pvt-t': 0.1, 'retinanet_agent-pvt-s': 0.1,
    'retinanet_agent-pvt-m': 0.2, 'retinanet_agent-pvt-l': 0.3,
    'cascade-mask-rcnn_agent-swin-b': 0.4,
}


def load(name):
    return Config.fromfile(osp.join(DET_DIR, f'{name}.py'))


def test_exactly_the_paper_models():
    names = {osp.splitext(osp.basename(p))[0]
             for p in glob.glob(osp.join(DET_DIR, '*.py'))
             if 'flatten' not in p and 'bivit' not in p}  # their own tests
    assert names == set(PAPER_PARAMS) | {'agent_pvt_maskrcnn'}


@pytest.mark.parametrize('name', sorted(PAPER_PARAMS))
def test_builds_with_paper_parameter_count(name):
    cfg = load(name)
    init_default_scope(cfg.default_scope)
    from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(params - PAPER_PARAMS[name]) <= 0.6, params


@pytest.mark.parametrize('name', sorted(PAPER_PARAMS))
def test_recipe(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports == dict(imports=['mmagent'],
                                      allow_failed_imports=False)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    backbone = cfg.model.backbone
    arch = name.split('agent-')[1].split('_')[0]  # e.g. 'pvt-t'
    assert backbone.arch == arch[-1]
    assert backbone.drop_path_rate == DROP_PATH.get(name.rsplit('_fpn')[0],
                                                    0.1)
    assert f'agent_{arch.replace("-", "_")}_max_acc.pth' in \
        backbone.init_cfg.checkpoint
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    epochs = 36 if '_3x_' in name else 12
    assert cfg.train_cfg.max_epochs == epochs
    steps = cfg.param_scheduler[1]
    assert steps.milestones == ([27, 33] if epochs == 36 else [8, 11])
    assert cfg.param_scheduler[0].end == 500
    pipeline_types = [t.type for t in cfg.train_pipeline]
    if 'pvt' in name:
        assert backbone.type == 'AgentPVT'
        assert optimizer.lr == (2e-4 if name.startswith('mask') else 1e-4)
        assert optimizer.weight_decay == 1e-4
        assert 'paramwise_cfg' not in cfg.optim_wrapper
        assert 'RandomChoice' not in pipeline_types  # single scale
    else:
        assert backbone.type == 'AgentSwinTransformer'
        assert optimizer.lr == 1e-4 and optimizer.weight_decay == 0.05
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        no_decay = ('norm', 'relative_position_bias_table', 'an_bias',
                    'na_bias', 'ah_bias', 'aw_bias', 'ha_bias', 'wa_bias')
        for key in no_decay:
            assert keys[key].decay_mult == 0.
        # nothing that cannot occur (Agent-Swin has no absolute_pos_embed)
        assert set(keys) == set(no_decay)
        assert 'RandomChoice' in pipeline_types  # multi-scale + crop
        assert cfg.optim_wrapper.get('type', 'OptimWrapper') == \
            'OptimWrapper'
    if name.startswith('cascade'):
        heads = cfg.model.roi_head.bbox_head
        assert [h.type for h in heads] == ['ConvFCBBoxHead'] * 3
        assert all(h.num_shared_convs == 4 and h.num_shared_fcs == 1 and
                   h.norm_cfg.type == 'SyncBN' and
                   h.loss_bbox.type == 'GIoULoss' and h.reg_decoded_bbox
                   for h in heads)


def test_quick_start_is_pvt_t_mask_rcnn():
    quick = load('agent_pvt_maskrcnn')
    assert quick.model == load('mask-rcnn_agent-pvt-t_fpn_1x_coco').model


def test_model_index_and_metafile():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    assert 'configs/det/metafile.yml' in index['Import']
    with open(osp.join(DET_DIR, 'metafile.yml')) as f:
        meta = yaml.safe_load(f)
    models = {m['Name']: m for m in meta['Models']}
    assert set(models) == set(PAPER_PARAMS)
    collections = {c['Name'] for c in meta['Collections']}
    for name, model in models.items():
        assert model['In Collection'] in collections
        assert osp.isfile(osp.join(REPO_ROOT, model['Config']))
        assert model['Metadata']['Parameters'] == f'{PAPER_PARAMS[name]}M'
        assert model['Weights'].startswith('https://cloud.tsinghua.edu.cn/')
        tasks = {r['Task'] for r in model['Results']}
        assert 'Object Detection' in tasks
        assert ('Instance Segmentation' in tasks) == ('mask' in name)


@pytest.mark.parametrize('name', [
    'mask-rcnn_agent-pvt-t_fpn_1x_coco',
    'retinanet_agent-pvt-t_fpn_1x_coco',
    'cascade-mask-rcnn_agent-swin-t_fpn_1x_coco',
])
@pytest.mark.slow
def test_train_and_predict_step_on_cpu(name):
    """Loss and predict of each detector type, SyncBN heads included, in a
    single CPU process."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.model import revert_sync_batchnorm
    cfg = load(name)
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    packed = demo_mm_inputs(2, [[3, 128, 160], [3, 96, 128]],
                            with_mask='mask' in name)
    data = model.data_preprocessor(packed, True)
    total, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(total)
    assert any(k.endswith('loss_cls') for k in log_vars)
    total.backward()
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    assert len(results) == 2 and hasattr(results[0], 'pred_instances')
