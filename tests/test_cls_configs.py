"""ImageNet classification, first slice: the Agent-PVT classifiers on
mmpretrain with the official recipe and parameter counts, and the official
ImageNet checkpoint format converted and reproducing the official logits."""
import math
import os.path as osp
import sys
import textwrap

import pytest
import torch
from conftest import REPO_ROOT, run
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmagent.apis import check_fits_config, prepare_weights
from mmagent.utils.convert import convert_checkpoint

# ImageNet-1k table of the paper (M parameters, one decimal)
PARAMS_M = {'t': 11.6, 's': 20.6, 'm': 35.9, 'l': 48.7}
DROP_PATH = {'t': 0.1, 's': 0.1, 'm': 0.3, 'l': 0.3}


def config(arch):
    return osp.join(REPO_ROOT, f'configs/cls/agent-pvt-{arch}_in1k.py')


@pytest.mark.parametrize('arch', sorted(PARAMS_M))
def test_builds_with_table_parameter_count(arch):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config(arch))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 1) == PARAMS_M[arch]


@pytest.mark.parametrize('arch', sorted(PARAMS_M))
def test_official_recipe(arch):
    cfg = Config.fromfile(config(arch))
    backbone = cfg.model.backbone
    assert backbone.type == 'AgentPVT' and backbone.arch == arch
    assert backbone.downstream_agent_shapes == [(3, 3), (4, 4), (7, 7),
                                                (7, 7)]
    assert backbone.drop_path_rate == DROP_PATH[arch]
    assert backbone.init_cfg is None
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [a.type for a in cfg.model.train_cfg.augments] == ['Mixup',
                                                              'CutMix']
    optim = cfg.optim_wrapper
    # 5e-4 per 512 images, for mmpretrain's 1024-image base
    assert optim.optimizer.lr == pytest.approx(1e-3)
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert optim.optimizer.weight_decay == 0.05
    assert optim.paramwise_cfg.flat_decay_mult == 0.
    assert optim.paramwise_cfg.bias_decay_mult == 0.
    assert dict(optim.paramwise_cfg.custom_keys) == {
        'pos_embed': dict(decay_mult=0.)}  # agent biases decay
    assert optim.get('clip_grad') == (dict(max_norm=1.0)
                                      if arch in 'ml' else None)
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 5 and warmup.start_factor * 5e-4 == \
        pytest.approx(1e-6)
    assert (cosine.begin, cosine.end) == (5, 300)
    assert cosine.eta_min == pytest.approx(2e-5)  # 1e-5 per 512
    assert cfg.train_cfg.max_epochs == 310  # 10 cool-down epochs
    assert cfg.train_dataloader.batch_size == 128
    augment = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'RandAugment' in augment and 'RandomErasing' in augment


def tiny_config(tmp_path, kwargs):
    """configs/cls/agent-pvt-t_in1k.py with the golden fixture's backbone
    (official kwargs, unchanged) and a 10-class head."""
    path = tmp_path / 'tiny_cls.py'
    path.write_text(textwrap.dedent(f"""
        _base_ = {config('t')!r}
        model = dict(
            backbone=dict(_delete_=True, type='AgentPVT',
                          downstream_agent_shapes=
                          {[(math.isqrt(a), ) * 2
                            for a in kwargs['agent_num']]!r},
                          out_indices=(3, ), drop_path_rate=0.,
                          **{kwargs!r}),
            head=dict(num_classes={kwargs['num_classes']},
                      in_channels={kwargs['embed_dims'][-1]}))
    """))
    return str(path)


@pytest.mark.parametrize('exact', [False, True])
def test_official_classifier_golden(golden_dir, tmp_path, exact):
    from mmpretrain.registry import MODELS
    golden = torch.load(osp.join(golden_dir, 'agent_pvt_cls_golden.pth'),
                        weights_only=False)
    cfg = Config.fromfile(tiny_config(tmp_path, golden['kwargs']))
    cfg.model.backbone.exact = exact
    converted, _ = convert_checkpoint({'model': golden['state_dict']})
    check_fits_config(converted['state_dict'], cfg)  # strict
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted['state_dict'], strict=True)
    assert len(converted['meta']['dataset_meta']['classes']) == 1000
    for case in golden['cases']:
        with torch.no_grad():
            features = model.extract_feat(case['input'])[0]  # after GAP
            logits = model(case['input'], mode='tensor')
        for ours, official in ((features, case['features']),
                               (logits, case['logits'])):
            error = (ours - official).abs().max() / official.abs().max()
            assert error <= 1e-4, error


def test_converter_and_inference_take_official_imagenet(golden_dir, tmp_path):
    golden = torch.load(osp.join(golden_dir, 'agent_pvt_cls_golden.pth'),
                        weights_only=False)
    config_path = tiny_config(tmp_path, golden['kwargs'])
    src = tmp_path / 'max_acc.pth'
    torch.save({'model': golden['state_dict'], 'epoch': 299,
                'max_accuracy': 78.4}, src)
    dst = tmp_path / 'converted.pth'
    result = run([sys.executable, 'tools/model_converters/official2mmagent.py',
                  str(src), str(dst), '--config', config_path])
    assert f'loads into {config_path} with strict=True' in result.stdout
    assert 'head.weight -> head.fc.weight' in result.stdout
    converted = torch.load(dst, weights_only=True)
    assert 'backbone.pos_embed1' in converted['state_dict']
    # the inference API converts it on the fly for a classification config
    out = prepare_weights(str(src), config_path, cache_dir=str(tmp_path))
    assert out.endswith('max_acc_mmagent.pth')
