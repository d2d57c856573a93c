"""ImageNet classification on mmpretrain: the paper's 18 classifiers (table
parameter counts and FLOPs, the official recipes), official ImageNet
checkpoints through the converter reproducing the official logits of all
four families, and checkpoints of other resolutions initialising the 224
downstream backbones."""
import logging
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import REPO_ROOT, TINY_SWIN, run
from golden_models import classifier_config
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from mmagent.apis import (check_fits_config, convert_checkpoint,
                          model_complexity, prepare_weights)
from mmagent.models.backbones import (AgentCSWin, AgentDeiT, AgentPVT,
                                      AgentSwinTransformer)

# agent_transformer/README.md: name -> (params as printed, GFLOPs, top-1)
TABLE = {
    'deit-t': ('6.0M', 1.2, 74.9), 'deit-s': ('22.7M', 4.4, 80.5),
    'deit-s-448': ('23.1M', 17.7, 83.1), 'deit-b': ('87.2M', 17.6, 82.0),
    'pvt-t': ('11.6M', 2.0, 78.4), 'pvt-s': ('20.6M', 4.0, 82.2),
    'pvt-m': ('35.9M', 7.0, 83.4), 'pvt-m-256': ('36.1M', 9.2, 83.8),
    'pvt-l': ('48.7M', 10.4, 83.7), 'swin-t': ('29M', 4.5, 82.6),
    'swin-s': ('50M', 8.7, 83.7), 'swin-s-288': ('50M', 14.6, 84.1),
    'swin-b': ('88M', 15.4, 84.0), 'swin-b-384': ('88M', 46.3, 84.9),
    'cswin-t': ('21M', 4.3, 83.1), 'cswin-s': ('33M', 6.8, 83.9),
    'cswin-b': ('73M', 14.9, 84.7), 'cswin-b-384': ('73M', 46.3, 85.8),
}
# Two printed counts are rounded up: the official agent_deit_small has
# 22,647,112 parameters (README: 22.7M) and Agent_CSWin_64_24181_tiny_224
# 20,458,672 (README: 21M), counted from the official layouts that the
# golden fixtures check key by key.
COUNTED_DIFFERENTLY = {'deit-s': '22.6M', 'cswin-t': '20M'}


def config(name):
    return osp.join(REPO_ROOT, f'configs/cls/agent-{name}_in1k.py')


def as_printed(count, printed):
    """``count`` parameters written with the table's number of decimals."""
    decimals = len(printed[:-1].partition('.')[2])
    return f'{count / 1e6:.{decimals}f}M'


@pytest.mark.parametrize('name', sorted(TABLE))
@pytest.mark.slow
def test_table_parameters_and_flops(name):
    """Built from the config at its test size (no weights): the table's
    parameter count to its last digit and FLOPs within 5%, the agent
    matmuls counted."""
    printed, gflops, _ = TABLE[name]
    flops, params, hw = model_complexity(
        config(name), cfg_options={'model.backbone.init_cfg': None})
    size = int(name.rsplit('-', 1)[-1]) if name[-1].isdigit() and \
        name.rsplit('-', 1)[-1].isdigit() else 224
    assert hw == (size, size)
    assert as_printed(params, printed) == COUNTED_DIFFERENTLY.get(
        name, printed)
    assert abs(flops / 1e9 - gflops) / gflops <= 0.05, flops / 1e9


def test_model_index_and_metafile():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        assert 'configs/cls/metafile.yml' in yaml.safe_load(f)['Import']
    with open(osp.join(REPO_ROOT, 'configs/cls/metafile.yml')) as f:
        meta = yaml.safe_load(f)
    models = {m['Name']: m for m in meta['Models']}
    assert set(models) == {f'agent-{n}_in1k' for n in TABLE}
    collections = {c['Name'] for c in meta['Collections']}
    for name, (printed, gflops, top1) in TABLE.items():
        model = models[f'agent-{name}_in1k']
        assert model['In Collection'] in collections
        assert model['Config'] == f'configs/cls/agent-{name}_in1k.py'
        assert model['Metadata']['Parameters'] == printed
        assert model['Metadata']['FLOPs'] == f'{gflops}G'
        result, = model['Results']
        assert result['Task'] == 'Image Classification'
        assert result['Metrics']['Top 1 Accuracy'] == top1
        assert model['Weights'].startswith('https://cloud.tsinghua.edu.cn/')


# ------------------------------------------------------------- recipes
# name -> (drop path, images per GPU, clip, wd, warm-up, cosine end,
#          total epochs, warm-up lr, min lr, base lr (per 512))
RECIPES = {
    'deit-t': (0.0, 512, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'deit-s': (0.1, 128, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'deit-s-448': (0.1, 64, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'deit-b': (0.3, 128, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'pvt-t': (0.1, 128, None, .05, 5, 300, 310, 1e-6, 1e-5, 5e-4),
    'pvt-s': (0.1, 128, None, .05, 5, 300, 310, 1e-6, 1e-5, 5e-4),
    'pvt-m': (0.3, 128, 1.0, .05, 5, 300, 310, 1e-6, 1e-5, 5e-4),
    'pvt-m-256': (0.3, 64, 1.0, .05, 5, 300, 310, 1e-6, 1e-5, 5e-4),
    'pvt-l': (0.3, 64, 1.0, .05, 5, 300, 310, 1e-6, 1e-5, 5e-4),
    'swin-t': (0.2, 128, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'swin-s': (0.3, 128, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'swin-s-288': (0.3, 64, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'swin-b': (0.5, 64, 5.0, .05, 20, 300, 300, 5e-7, 5e-6, 5e-4),
    'swin-b-384': (0.5, 32, 5.0, 1e-8, 5, 30, 30, 2e-8, 2e-7, 2e-5),
    'cswin-t': (0.2, 128, None, .05, 20, 300, 310, 1e-6, 1e-5, 5e-4),
    'cswin-s': (0.4, 128, None, .05, 20, 300, 310, 1e-6, 1e-5, 5e-4),
    'cswin-b': (0.5, 64, None, .1, 20, 300, 310, 1e-6, 1e-5, 5e-4),
    'cswin-b-384': (0.7, 32, None, 1e-8, 0, 20, 30, 5e-6, 5e-7, 5e-6),
}
EMA_DECAY = {'cswin-t': 0.99984, 'cswin-s': 0.99984, 'cswin-b': 0.99992,
             'cswin-b-384': 0.9998}


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_official_recipe(name):
    (drop_path, batch, clip, wd, warmup, cosine_end, epochs, warmup_lr,
     min_lr, lr) = RECIPES[name]
    cfg = Config.fromfile(config(name))
    assert cfg.model.type == 'ImageClassifier'
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.train_dataloader.batch_size == batch
    # lr per 512 images, for mmpretrain's 1024-image base, scaled with the
    # real batch like main.py
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW'
    assert optim.optimizer.lr == pytest.approx(lr * 2)
    assert cfg.auto_scale_lr == dict(base_batch_size=1024, enable=True)
    assert optim.optimizer.weight_decay == wd
    assert optim.paramwise_cfg.flat_decay_mult == 0.
    assert optim.paramwise_cfg.bias_decay_mult == 0.
    # the agent biases are decayed in classification, and so are PVT's
    # pos_embed{i} (its no_weight_decay() lists only cls_token)
    no_decay = {'cls_token', 'relative_position_bias_table'}
    if not name.startswith('pvt'):
        no_decay.add('pos_embed')
    assert set(optim.paramwise_cfg.custom_keys) == no_decay
    assert optim.get('clip_grad') == (clip and dict(max_norm=clip))
    *warm, cosine = cfg.param_scheduler
    if warmup:
        assert warm[0].end == warmup and \
            warm[0].start_factor * lr == pytest.approx(warmup_lr)
    else:
        assert not warm
    assert (cosine.type, cosine.begin, cosine.end) == (
        'CosineAnnealingLR', warmup, cosine_end)
    assert cosine.eta_min_ratio * lr == pytest.approx(min_lr)
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [a.type for a in cfg.model.train_cfg.augments] == ['Mixup',
                                                              'CutMix']
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandAugment'].magnitude_level == 9
    assert train['RandAugment'].magnitude_std == 0.5
    assert train['RandomErasing'].erase_prob == 0.25
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    ema = [h for h in cfg.get('custom_hooks', []) if h.type == 'EMAHook']
    assert [1 - h.momentum for h in ema] == pytest.approx(
        [EMA_DECAY[name]] if name in EMA_DECAY else [])


@pytest.mark.parametrize('name,size,crop', [
    ('pvt-m-256', 256, True), ('swin-s-288', 288, False),
    ('swin-b-384', 384, False), ('cswin-b-384', 384, True),
    ('deit-s-448', 448, True)])
def test_higher_resolution_configs(name, size, crop):
    cfg = Config.fromfile(config(name))
    assert cfg.model.backbone.pretrain_img_size == size
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandomResizedCrop'].scale == size
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    if crop:  # official TEST.CROP: short edge to 256/224 of it, centre crop
        assert test['ResizeEdge'].scale == size * 256 // 224
        assert test['CenterCrop'].crop_size == size
    else:
        assert test['Resize'].scale == (size, size)
    if name.endswith('384'):  # fine-tuned from the official 224 weights
        init = cfg.model.backbone.init_cfg
        assert init.type == 'Pretrained' and \
            init.checkpoint.startswith('https://cloud.tsinghua.edu.cn/')


# ------------------------------------------------- official checkpoints
FAMILIES = {'pvt': 'pvt-t', 'swin': 'swin-t', 'deit': 'deit-t',
            'cswin': 'cswin-t'}


def golden_config(family, kwargs):
    """The family's real classifier config with the fixture's backbone
    (official kwargs, unchanged) in place of the preset."""
    return classifier_config(f'agent-{FAMILIES[family]}', kwargs)


@pytest.mark.parametrize('exact', [False, True])
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_official_classifier_golden(golden_dir, family, exact):
    """Official state dict -> converter -> strict load into the config's
    ImageClassifier -> the official features and logits."""
    from mmpretrain.registry import MODELS
    golden = torch.load(osp.join(golden_dir, f'agent_{family}_cls_golden.pth'),
                        weights_only=False)
    cfg = golden_config(family, golden['kwargs'])
    cfg.model.head.in_channels = golden['state_dict']['head.weight'].shape[1]
    cfg.model.backbone.exact = exact
    converted, _ = convert_checkpoint({'model': golden['state_dict']})
    check_fits_config(converted['state_dict'], cfg)  # strict
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(converted['state_dict'], strict=True)
    assert len(converted['meta']['dataset_meta']['classes']) == 1000
    for case in golden['cases']:
        with torch.no_grad():
            features = model.extract_feat(case['input'])[-1]
            logits = model(case['input'], mode='tensor')
        for ours, official in ((features, case['features']),
                               (logits, case['logits'])):
            error = (ours - official).abs().max() / official.abs().max()
            assert error <= 1e-4, error


def write_golden_config(tmp_path, family, golden):
    cfg = golden_config(family, golden['kwargs'])
    cfg.model.head.in_channels = golden['state_dict']['head.weight'].shape[1]
    path = str(tmp_path / f'{family}_cls.py')
    cfg.dump(path)
    return path


@pytest.mark.slow
def test_converter_and_inference_take_official_imagenet(golden_dir, tmp_path):
    golden = torch.load(osp.join(golden_dir, 'agent_swin_cls_golden.pth'),
                        weights_only=False)
    config_path = write_golden_config(tmp_path, 'swin', golden)
    src = tmp_path / 'max_acc.pth'
    torch.save({'model': golden['state_dict'], 'epoch': 299,
                'max_accuracy': 82.6}, src)
    dst = tmp_path / 'converted.pth'
    result = run([sys.executable, 'tools/model_converters/official2mmagent.py',
                  str(src), str(dst), '--config', config_path])
    assert f'loads into {config_path} with strict=True' in result.stdout
    assert 'head.weight -> head.fc.weight' in result.stdout
    assert 'norm.weight -> backbone.norm3.weight' in result.stdout
    converted = torch.load(dst, weights_only=True)
    assert not any(k.endswith('attn_mask') for k in converted['state_dict'])
    # mmengine's loader with strict=True, then the logits in tensor mode
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(config_path).model).eval()
    load_checkpoint(model, str(dst), strict=True)
    case = golden['cases'][0]
    with torch.no_grad():
        logits = model(case['input'], mode='tensor')
    assert torch.allclose(logits, case['logits'], atol=1e-4, rtol=1e-4)
    # the inference API converts it on the fly for a classification config
    out = prepare_weights(str(src), config_path, cache_dir=str(tmp_path))
    assert out.endswith('max_acc_mmagent.pth')


# ------------------------------------------- other resolutions -> 224
def randomized(state_dict):
    return {k: torch.randn_like(v) if v.is_floating_point() else v
            for k, v in state_dict.items()}


@pytest.fixture
def captured_log():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    yield lambda: '\n'.join(r.getMessage() for r in records)
    logger.removeHandler(handler)


def test_384_checkpoint_initialises_224_detection_backbone(tmp_path,
                                                           captured_log):
    """An official-format Agent-Swin-B-384 checkpoint (window 96, agent
    biases on 96/48/24/12 grids, 12x12 relative tables, attn_mask buffers)
    loads into the 224 downstream backbone of the detection configs."""
    small = dict(TINY_SWIN, embed_dims=8)
    hires = AgentSwinTransformer(**small, pretrain_img_size=384,
                                 window_size=96, out_indices=(3, ))
    state = randomized(hires.state_dict())
    state = {('norm.' + k[6:]) if k.startswith('norm3.') else k: v
             for k, v in state.items()}
    state['layers.2.blocks.3.attn_mask'] = torch.zeros(4, 144, 144)
    state['head.weight'] = torch.zeros(10, 64)
    path = tmp_path / 'agent_swin_b_384.pth'
    torch.save({'model': state}, path)

    det = AgentSwinTransformer(
        **small, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    det.init_weights()
    own = det.state_dict()
    bias = 'layers.0.blocks.0.attn.ah_bias'
    assert state[bias].shape[3] == 96 and own[bias].shape[3] == 56
    expected = F.interpolate(state[bias].reshape(-1, 1, 96), size=56,
                             mode='linear', align_corners=False)
    assert torch.equal(own[bias], expected.reshape(own[bias].shape))
    table = 'layers.3.blocks.0.attn.relative_position_bias_table'
    assert state[table].shape[0] == 23 * 23 and own[table].shape[0] == 169
    assert torch.equal(own['layers.1.blocks.0.attn.qkv.weight'],
                       state['layers.1.blocks.0.attn.qkv.weight'])
    assert not torch.equal(own['norm3.weight'], state['norm.weight'])
    log = captured_log()
    assert f'{bias}: (1, 1, 9, 96, 1) -> (1, 1, 9, 56, 1)' in log
    assert 'relative_position_index: dropped (recomputed)' in log
    with torch.no_grad():
        outs = det(torch.randn(1, 3, 96, 128))
    assert [o.shape[1] for o in outs] == [8, 16, 32, 64]


@pytest.mark.parametrize('family,kwargs,hires', [
    ('pvt', dict(embed_dims=[8, 16, 24, 32], depths=[1, 1, 1, 1],
                 num_heads=[1, 2, 3, 4], mlp_ratios=[2, 2, 2, 2]), 256),
    ('deit', dict(embed_dims=24, depth=2, num_heads=3), 448),
    ('cswin', dict(embed_dims=8, depths=[1, 1, 1, 1], num_heads=[2, 2, 2, 2],
                   split_size=[1, 2, 12, 12]), 384),
])
def test_other_resolutions_initialise_224_backbones(tmp_path, family, kwargs,
                                                    hires):
    cls = dict(pvt=AgentPVT, deit=AgentDeiT, cswin=AgentCSWin)[family]
    extra = dict(la_split_size=[hires // 4 // 2**i for i in range(4)]) \
        if family == 'cswin' else {}
    source = cls(**kwargs, **extra, pretrain_img_size=hires)
    state = randomized(source.state_dict())
    path = tmp_path / f'{family}_{hires}.pth'
    torch.save({'model': state}, path)
    lowres = dict(kwargs, split_size=[1, 2, 7, 7]) if family == 'cswin' \
        else kwargs
    model = cls(**lowres, init_cfg=dict(type='Pretrained',
                                        checkpoint=str(path)))
    model.init_weights()
    own = model.state_dict()
    resized = [k for k in state if state[k].shape != own[k].shape]
    assert resized and all(
        k.rsplit('.', 1)[-1].startswith(('ah_', 'aw_', 'ha_', 'wa_', 'pos_'))
        for k in resized), resized
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 224, 224))


def test_missing_imagenet_names_the_folders(tmp_path):
    """No data/imagenet/: one message naming the split folders and the
    --cfg-options way out; no work_dir written."""
    result = run([sys.executable, osp.join(REPO_ROOT, 'tools/train.py'),
                  config('swin-t'), '--work-dir', str(tmp_path / 'work')],
                 check=False)
    assert result.returncode != 0
    assert 'ImageNet is expected under data/imagenet' in result.stderr
    assert 'train_dataloader: data/imagenet/train' in result.stderr
    assert 'val_dataloader: data/imagenet/val' in result.stderr
    assert '--cfg-options train_dataloader.dataset.data_root=' in \
        result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'work').exists()
