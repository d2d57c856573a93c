"""FLatten ImageNet classifiers on mmpretrain: the configs build with the
parameter counts of the FLatten paper and repository, get_flops counts the
focused linear products, the recipes follow the official yacs configs, the
model index carries them, and a 224 checkpoint is fitted to the 384 model."""
import os.path as osp

import pytest
import torch
import yaml
from conftest import REPO_ROOT
from mmengine.config import Config

from mmagent.apis import model_complexity
from mmagent.models.backbones import FLattenSwinTransformer
from mmagent.models.backbones.resize_weights import fit_resolution

# name -> (parameters in M to two decimals, GFLOPs, top-1 or None). The
# counts are the official models' (FLatten-Transformer models/*.py, counted
# by the spec, flatten_bivit.md 1.5); FLOPs and top-1 are the
# paper's (PVTv2-B0: the README's top-1; PVT-M/L and PVTv2-B0/B3/B4: our
# FLOPs, the paper only plots them).
TABLE = {
    'pvt-t': (12.15, 2.0, 77.8), 'pvt-s': (21.67, 4.0, 81.7),
    'pvt-m': (37.24, 7.06, None), 'pvt-l': (50.65, 10.41, None),
    'pvtv2-b0': (3.59, 0.59, 71.1), 'pvtv2-b1': (12.93, 2.2, 79.5),
    'pvtv2-b2': (22.55, 4.3, 82.5), 'pvtv2-b3': (38.27, 7.31, None),
    'pvtv2-b4': (51.84, 10.71, None),
    'swin-t': (29.19, 4.5, 82.1), 'swin-s': (50.51, 8.7, 83.5),
    'swin-b': (88.97, 15.4, 83.8), 'swin-b-384': (91.43, 46.5, 85.0),
    'cswin-t': (21.20, 4.3, 83.1), 'cswin-s': (35.45, 6.9, 83.8),
    'cswin-b': (74.87, 15.0, 84.5), 'cswin-b-384': (78.37, 46.4, 85.5),
}


def config(name):
    return osp.join(REPO_ROOT, f'configs/cls/flatten-{name}_in1k.py')


@pytest.mark.parametrize('name', sorted(TABLE))
@pytest.mark.slow
def test_parameters_and_flops(name):
    params_m, gflops, _ = TABLE[name]
    flops, params, hw = model_complexity(
        config(name), cfg_options={'model.backbone.init_cfg': None})
    assert hw == ((384, 384) if name.endswith('384') else (224, 224))
    assert f'{params / 1e6:.2f}' == f'{params_m:.2f}'
    assert abs(flops / 1e9 - gflops) / gflops <= 0.05, flops / 1e9


def test_model_index():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        assert 'configs/cls/flatten_metafile.yml' in yaml.safe_load(
            f)['Import']
    with open(osp.join(REPO_ROOT, 'configs/cls/flatten_metafile.yml')) as f:
        meta = yaml.safe_load(f)
    models = {m['Name']: m for m in meta['Models']}
    assert set(models) == {f'flatten-{n}_in1k' for n in TABLE}
    for name, (_, _, top1) in TABLE.items():
        model = models[f'flatten-{name}_in1k']
        assert model['Config'] == f'configs/cls/flatten-{name}_in1k.py'
        assert osp.isfile(osp.join(REPO_ROOT, model['Config']))
        if top1 is None:
            assert model['Results'] is None
        else:
            assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == top1
    released = {n for n in TABLE if 'Weights' in models[f'flatten-{n}_in1k']}
    assert released == {'pvt-t', 'pvtv2-b0', 'swin-t', 'swin-s', 'swin-b',
                        'swin-b-384', 'cswin-t'}


# name -> (drop path, images per GPU, clip, warm-up epochs, total epochs)
RECIPES = {
    'pvt-t': (0.1, 128, None, 5, 310), 'pvt-s': (0.1, 64, None, 5, 310),
    'pvt-m': (0.3, 64, 1.0, 5, 310), 'pvt-l': (0.3, 32, 1.0, 5, 310),
    'pvtv2-b0': (0.1, 128, None, 5, 310), 'pvtv2-b1': (0.1, 128, None, 5, 310),
    'pvtv2-b2': (0.1, 128, None, 5, 310), 'pvtv2-b3': (0.3, 128, 1.0, 5, 310),
    'pvtv2-b4': (0.3, 64, 1.0, 5, 310),
    'swin-t': (0.2, 128, 5.0, 20, 300), 'swin-s': (0.3, 128, 5.0, 20, 300),
    'swin-b': (0.5, 64, 5.0, 20, 300), 'swin-b-384': (0.5, 32, 5.0, 5, 30),
    'cswin-t': (0.2, 256, None, 20, 310), 'cswin-s': (0.4, 128, None, 20, 310),
    'cswin-b': (0.5, 64, None, 20, 310), 'cswin-b-384': (0.7, 32, None, 0, 30),
}
EMA_DECAY = {'cswin-t': 0.99984, 'cswin-s': 0.99984, 'cswin-b': 0.99982,
             'cswin-b-384': 0.99982}


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_official_recipe(name):
    dpr, batch, clip, warmup, epochs = RECIPES[name]
    cfg = Config.fromfile(config(name))
    backbone = cfg.model.backbone
    assert backbone.drop_path_rate == dpr
    assert backbone.focusing_factor == 3 and backbone.kernel_size == 5
    if 'pvt' in name:
        assert backbone.attn_type == 'LLLL'
    assert cfg.train_dataloader.batch_size == batch
    assert (cfg.optim_wrapper.clip_grad or {}).get('max_norm') == clip
    first = cfg.param_scheduler[0]
    if warmup:
        assert first.type == 'LinearLR' and first.end == warmup
    else:  # the 384 CSWin fine-tune starts at its peak
        assert first.type == 'CosineAnnealingLR'
    ema = [h for h in cfg.get('custom_hooks', []) if h.type == 'EMAHook']
    assert [1 - h.momentum for h in ema] == pytest.approx(
        [EMA_DECAY[name]] if name in EMA_DECAY else [])
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.auto_scale_lr.enable and cfg.auto_scale_lr.base_batch_size \
        == 1024
    # FLatten decays attn.scale, attn.positional_encoding and PVT's
    # pos_embed{i} (no_weight_decay() lists only cls_token): no custom key
    # may match their full names (mmengine matches keys as substrings)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    if name.startswith('pvt'):
        decayed = ['backbone.block1.0.attn.positional_encoding',
                   'backbone.block1.0.attn.scale', 'backbone.pos_embed1']
    elif name.startswith('cswin'):
        decayed = ['backbone.stage1.0.attns.0.positional_encoding',
                   'backbone.stage1.0.attns.0.scale']
    else:
        decayed = ['backbone.layers.0.blocks.0.attn.positional_encoding',
                   'backbone.layers.0.blocks.0.attn.scale']
    assert not any(k in name for k in keys for name in decayed)


def test_224_checkpoint_fits_the_384_model():
    """positional_encoding is resized bicubically as a map, as the
    official fine-tuning loader does."""
    kwargs = dict(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4])
    small = FLattenSwinTransformer(**kwargs, window_size=56)
    large = FLattenSwinTransformer(**kwargs, img_size=384, window_size=96)
    state = small.state_dict()
    fitted, changes = fit_resolution(state, large.state_dict())
    key = 'layers.0.blocks.0.attn.positional_encoding'
    assert state[key].shape == (1, 56 * 56, 16)
    assert fitted[key].shape == (1, 96 * 96, 16)
    assert any(c.startswith(key) for c in changes)
    expected = torch.nn.functional.interpolate(
        state[key].reshape(1, 56, 56, 16).permute(0, 3, 1, 2), size=(96, 96),
        mode='bicubic', align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(fitted[key], expected)
    result = large.load_state_dict(fitted, strict=False)
    assert not result.unexpected_keys  # only recomputed buffers missing
    assert all(k.endswith('relative_position_index')
               for k in result.missing_keys)
