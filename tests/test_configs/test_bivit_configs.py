"""The BiViT configs: ImageNet classifiers, COCO detectors and their
model-index entries."""
import os.path as osp

import pytest
from conftest import REPO_ROOT
from mmengine.registry import MODELS


CLS_CONFIGS = {
    # name -> (inner backbone type, attn_type, agent, head channels)
    'bivit-swin-t_in1k': ('AgentSwinTransformer', 'BBBB', False, 768),
    'bivit-swin-s_in1k': ('AgentSwinTransformer', 'BBBB', False, 768),
    'bivit-agent-swin-t_in1k': ('AgentSwinTransformer', 't', True, 768),
    'bivit-agent-pvt-t_in1k': ('AgentPVT', 't', True, 512),
}


@pytest.mark.parametrize('name', sorted(CLS_CONFIGS))
def test_imagenet_configs(name):
    """The paper's recipe: distillation alone from the full-precision
    classifier (also the starting point), Adam 5e-4 without weight decay,
    5 warm-up epochs then cosine, 300 epochs with the CLB switch at 150."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/cls', f'{name}.py'))
    kind, arch, agent, channels = CLS_CONFIGS[name]
    model = cfg.model
    assert model.type == 'DistilledImageClassifier'
    assert model.distill_weight == 1 and model.label_weight == 0
    assert model.backbone.type == 'BiViT' and model.backbone.attn
    assert model.backbone.mlp == 'deferred'
    assert model.backbone.get('agent', False) == agent
    inner = model.backbone.backbone
    assert inner.type == kind == model.teacher.backbone.type
    assert inner.arch == model.teacher.backbone.arch
    assert (inner.arch if isinstance(inner.arch, str) else
            inner.arch.attn_type) == arch
    assert model.teacher_checkpoint == cfg.load_from
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=5e-4,
                                               weight_decay=0.)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 5)
    assert (cosine.type, cosine.begin, cosine.end) == (
        'CosineAnnealingLR', 5, 300)
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.custom_hooks == [dict(type='CrossLayerBinarizationHook',
                                     switch_epoch=150)]
    assert cfg.find_unused_parameters  # the MLP alphas wait for stage 2
    init_default_scope('mmpretrain')
    model.teacher_checkpoint = None
    built = MODELS.build(model)
    assert built.head.fc.in_features == channels
    assert built.backbone.binarized['attention_modules'] > 0


@pytest.mark.parametrize('name', ['mask-rcnn_bivit-swin-t_fpn_1x_coco',
                                  'cascade-mask-rcnn_bivit-swin-t_fpn_1x_coco'])
def test_coco_configs(name):
    """Swin-T with only the backbone's attention binarized, on the Agent
    Swin-T detector's 1x recipe, from the full-precision ImageNet weights;
    Swin-T's detector parameter count (+ the alphas)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/det', f'{name}.py'))
    agent = Config.fromfile(osp.join(
        REPO_ROOT, 'configs/det', name.replace('bivit', 'agent') + '.py'))
    # the alphas are not decayed; the rest is the Agent-Swin-T recipe
    custom_keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom_keys.pop('alpha') == dict(decay_mult=0.)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader'):
        assert cfg[key] == agent[key], key
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.attn, backbone.mlp) == ('BiViT', True,
                                                            False)
    assert backbone.backbone.arch.attn_type == 'BBBB'
    assert backbone.backbone.init_cfg.checkpoint.endswith(
        'swin_tiny_patch4_window7_224.pth')
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as DET_MODELS
    backbone.backbone.init_cfg = None
    model = DET_MODELS.build(cfg.model)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    expected = 47.8 if name.startswith('mask') else 85.6  # Swin-T's
    assert abs(params - expected) < 0.1, params


def test_model_index_entries():
    import yaml
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    names = set()
    for task in ('cls', 'det'):
        path = f'configs/{task}/bivit_metafile.yml'
        assert path in imports
        with open(osp.join(REPO_ROOT, path)) as f:
            for model in yaml.safe_load(f)['Models']:
                names.add(model['Name'])
                assert 'Weights' not in model  # none were released
                if 'Results' in model:
                    assert 'not an mmagent run' in model['Results Source']
                else:
                    assert 'experimental' in model['Metadata']['Status']
    assert names == set(CLS_CONFIGS) | {
        'mask-rcnn_bivit-swin-t_fpn_1x_coco',
        'cascade-mask-rcnn_bivit-swin-t_fpn_1x_coco'}
