"""Batches of images of different sizes, padded right/bottom: padded tokens
contribute nothing to focused linear attention's mean(phi(K)) or K^T V, so
each image of a padded batch comes out of the FLatten backbones as it does
alone; the FLatten dense configs' data preprocessors hand the image sizes
to the backbone."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, assert_tensors_equal, block_context
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmagent.models.backbones import (FLattenPVT, FLattenPVTv2,
                                      FLattenSwinTransformer)
from mmagent.models.layers.attention import build_attention
from mmagent.models.layers.padding import token_mask

TINY = dict(embed_dims=[16, 32, 40, 64], depths=[1, 1, 1, 1],
            num_heads=[1, 2, 5, 8], mlp_ratios=[2, 2, 2, 2])


def randomise(module):
    """Non-trivial values for the zero-initialised scale and positional
    encodings, which would otherwise hide a wrongly resized encoding."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if 'positional_encoding' in name or name.endswith('scale'):
                p.normal_(0, 0.5)
    return module.eval()


def pad_batch(images, hw):
    """The images top-left in one batch, noise in the padding (the
    backbones zero it: mmdet and mmseg pad with zeros)."""
    batch = torch.randn(len(images), *images[0].shape[1:-2], *hw) * 5
    for b, image in enumerate(images):
        batch[b, ..., :image.shape[-2], :image.shape[-1]] = image[0]
    return batch


def relative_error(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize('fused_qkv,sr_ratio,lepe', [
    (True, 1, False), (False, 1, False), (False, 2, False), (None, 1, True)])
@pytest.mark.parametrize('exact', [False, True])
def test_padded_keys_contribute_nothing(fused_qkv, sr_ratio, lepe, exact):
    """The kind on a (2, 12x14) token batch whose second image is 7x9:
    its tokens equal those of the image alone (positional encoding
    resized to 7x9, V's convs see zeros beyond it), whatever the padded
    tokens hold."""
    attn = randomise(build_attention(
        'focused_linear',
        block_context(fused_qkv=fused_qkv, sr_ratio=sr_ratio),
        dict(lepe=lepe, exact=exact)))
    H, W, h, w = 12, 14, 7, 9
    valid = [(H, W), (h, w)]
    mask = token_mask(valid, (H, W))[..., None].float()

    def run(tokens, hw, valid_hw=None):
        if fused_qkv is None:  # CSWin: the block projects q, k, v itself
            return attn((tokens, tokens * 0.7, tokens.cos()), hw,
                        valid_hw=valid_hw)
        return attn(tokens, hw, valid_hw=valid_hw)

    alone = torch.randn(1, h * w, 32)
    full = torch.randn(1, H * W, 32)
    second = torch.randn(1, H, W, 32)
    second[:, :h, :w] = alone.reshape(1, h, w, 32)
    batch = torch.cat([full, second.reshape(1, H * W, 32)])
    with torch.no_grad():
        out = run(batch, (H, W), valid)
        expected = run(alone, (h, w))
        # anything in the padding: the images' tokens do not change
        noisy = batch + 100 * torch.randn_like(batch) * (1 - mask)
        out_noisy = run(noisy, (H, W), valid)
        unpadded = run(full, (H, W))
    got = out[1].reshape(H, W, 32)[:h, :w].reshape(1, h * w, 32)
    assert relative_error(got, expected) < 1e-5
    assert torch.allclose(out_noisy * mask, out * mask, atol=1e-5)
    # the unpadded image of the batch is untouched
    assert relative_error(out[:1], unpadded) < 1e-5
    # without the sizes the padding does leak (what the test guards)
    with torch.no_grad():
        leaky = run(batch, (H, W))[1].reshape(H, W, 32)[:h, :w]
    assert relative_error(leaky.reshape(1, h * w, 32), expected) > 1e-3


BACKBONES = {
    'FLattenPVT': lambda: FLattenPVT(arch=TINY, drop_path_rate=0.),
    'FLattenPVT-sr': lambda: FLattenPVT(arch=TINY, drop_path_rate=0.,
                                        la_sr_ratios='8421'),
    'FLattenPVTv2': lambda: FLattenPVTv2(arch=TINY, drop_path_rate=0.),
    # the focused linear stages; the window softmax ones see the padding
    # (as mmdet's Swin does)
    'FLattenSwin': lambda: FLattenSwinTransformer(
        arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8],
                  attn_type='LLSS'), drop_path_rate=0., out_indices=(0, 1)),
}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_padded_batch_equals_each_image_alone(name):
    """Images of 96x128 and 70x90 pixels in one 96x128 batch: every output
    map of each image, on its own region, as the image alone (70 and 90
    are not multiples of the strides: the patch embeddings' floor/ceil and
    the merging's zero padding are followed too); zero on padding."""
    model = randomise(BACKBONES[name]())
    sizes = [(96, 128), (70, 90)]
    images = [torch.randn(1, 3, *s) for s in sizes]
    batch = pad_batch(images, sizes[0])
    with torch.no_grad():
        outs = model(batch, valid_sizes=sizes)
        leaky = model(batch)
        for b, image in enumerate(images):
            for out, out_leaky, alone in zip(outs, leaky, model(image)):
                h, w = alone.shape[-2:]
                assert relative_error(out[b, :, :h, :w], alone[0]) < 1e-5
                if b == 1:
                    assert out[b, :, h:].abs().sum() == 0
                    assert out[b, :, :, w:].abs().sum() == 0
                    assert relative_error(out_leaky[b, :, :h, :w],
                                          alone[0]) > 1e-3


def test_unpadded_batch_runs_the_plain_path():
    model = randomise(FLattenPVT(arch=TINY, drop_path_rate=0.))
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        plain = model(x)
        sized = model(x, valid_sizes=[(64, 96), (64, 96)])
    assert_tensors_equal(plain, sized)


@pytest.mark.parametrize('config', [
    'det/mask-rcnn_flatten-pvt-t_fpn_1x_coco',
    'seg/fpn_flatten-pvt-t_40k_ade20k-512x512'])
def test_dense_configs_hand_image_sizes_to_the_backbone(config):
    """The FLatten detector / segmentor hands its data samples' sizes
    before padding to the backbone: the features of an image padded in a
    batch equal the image's features alone."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', f'{config}.py'))
    init_default_scope(cfg.default_scope)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.arch = TINY  # the mechanism, on a small backbone
    cfg.model.neck.in_channels = TINY['embed_dims']
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.testing import demo_mm_inputs
        shapes = [[3, 96, 128], [3, 70, 90]]
        packed = demo_mm_inputs(2, shapes)
        packed_alone = demo_mm_inputs(1, shapes[1:])
        packed_alone['inputs'] = packed['inputs'][1:]
    else:
        from mmseg.registry import MODELS
        from mmseg.structures import SegDataSample
        from mmengine.structures import PixelData
        cfg.model.data_preprocessor.size = (96, 128)
        images = [torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8),
                  torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8)]
        samples = []
        for image in images:
            sample = SegDataSample()
            sample.gt_sem_seg = PixelData(
                data=torch.zeros(1, *image.shape[1:], dtype=torch.long))
            sample.set_metainfo(dict(img_shape=image.shape[1:]))
            samples.append(sample)
        packed = dict(inputs=images, data_samples=samples)
        packed_alone = dict(inputs=images[1:], data_samples=samples[1:])
    model = randomise(MODELS.build(cfg.model)).eval()
    assert type(model).__name__.startswith('PaddingAware')
    feats = []
    model.backbone.register_forward_hook(
        lambda module, args, outputs: feats.append(outputs))
    with torch.no_grad():
        # a batch of two is padded as in training, one image alone not
        for packed_data, training in ((packed, True), (packed_alone, False)):
            data = model.data_preprocessor(packed_data, training)
            model(data['inputs'], data['data_samples'], mode='tensor')
    batch, alone = feats
    for feat, feat_alone in zip(batch, alone):
        h, w = feat_alone.shape[-2:]
        assert relative_error(feat[1, :, :h, :w], feat_alone[0]) < 1e-5
    # the backbone called on its own gets no sizes: the padding leaks in
    with torch.no_grad():
        leaky = model.backbone(
            model.data_preprocessor(packed, True)['inputs'])
    h, w = alone[0].shape[-2:]
    assert relative_error(leaky[0][1, :, :h, :w], alone[0][0]) > 1e-3


def test_padding_aware_model_needs_a_backbone_that_takes_sizes():
    import mmagent.models.dense.seg  # noqa: F401  registers the type
    cfg = Config.fromfile(osp.join(
        REPO_ROOT, 'configs', 'seg', 'fpn_flatten-pvt-t_40k_ade20k-512x512.py'))
    init_default_scope('mmseg')
    from mmseg.registry import MODELS
    cfg.model.backbone = dict(type='AgentCSWin', embed_dim=16,
                              depth=[1, 1, 1, 1], num_heads=[2] * 4,
                              split_size=[1, 2, 7, 7])
    with pytest.raises(TypeError, match='AgentCSWin.forward takes no '
                       'valid_sizes.*use EncoderDecoder'):
        MODELS.build(cfg.model)


def test_backbones_declare_whether_they_take_sizes():
    """``takes_valid_sizes`` (read by the padding-aware models) says what
    each family's forward takes."""
    import inspect

    from mmagent.models import backbones
    families = [getattr(backbones, name) for name in backbones.__all__
                if isinstance(getattr(backbones, name), type) and issubclass(
                    getattr(backbones, name), backbones.AttentionBackbone)]
    assert len(families) >= 8
    declared = {f.__name__ for f in families if f.takes_valid_sizes}
    assert declared == {
        f.__name__ for f in families
        if 'valid_sizes' in inspect.signature(f.forward).parameters}
    assert {'AgentPVT', 'AgentSwinTransformer'} <= declared


def test_images_too_small_for_their_batch_are_refused():
    """An image left without a key of its own (smaller than the spatial
    reduction, or than a patch) gets one clear error."""
    attn = build_attention(
        'focused_linear',
        block_context(fused_qkv=False, sr_ratio=4), {})
    x = torch.randn(2, 12 * 12, 32)
    with pytest.raises(ValueError, match='smaller than the 4x4 spatial '
                       'reduction'):
        attn(x, (12, 12), valid_hw=[(12, 12), (3, 12)])
    model = FLattenPVT(arch=TINY, drop_path_rate=0.)
    with pytest.raises(ValueError, match='has no token left'):
        model(torch.randn(2, 3, 64, 64), valid_sizes=[(64, 64), (2, 64)])
