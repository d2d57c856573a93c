"""The fast path trains like the exact one: on the official models of the
golden fixtures (both repositories' classifiers, the downstream Agent-PVT
and Agent-Swin backbones), every parameter's gradient of the fast path
equals the exact path's to a relative 1e-4, in training mode.

Both run in float64. In fp32, rounding alone moves a few gradients that
are sums of large cancelling terms (the queries' projection in Agent-PVT's
784-agent stage) by 1-2e-4 from the float64 truth in *both* paths; in
float64 the two paths agree to ~4e-7, so the comparison shows the maths
of the paths, which any dropped or misrouted gradient would break."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from mmagent.utils.convert import convert_checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# fixture -> our classifier config of that family
CLASSIFIERS = {
    'agent_pvt': 'agent-pvt-t', 'agent_swin': 'agent-swin-t',
    'agent_deit': 'agent-deit-t', 'agent_cswin': 'agent-cswin-t',
    'flatten_pvt': 'flatten-pvt-t', 'flatten_pvt_v2': 'flatten-pvtv2-b1',
    'flatten_swin': 'flatten-swin-t', 'flatten_cswin': 'flatten-cswin-t'
}


def load_golden(golden_dir, name):
    return torch.load(osp.join(golden_dir, f'{name}_golden.pth'),
                      map_location='cpu', weights_only=False)


def classifier(golden, config, exact):
    """The family's classifier config with the fixture's backbone (official
    kwargs) and weights, in training mode without stochastic layers."""
    import mmpretrain.models  # noqa: F401 (registers ImageClassifier)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/cls', f'{config}'
                                   '_in1k.py'))
    backbone = dict(cfg.model.backbone)
    for preset in ('arch', 'pretrain_img_size', 'drop_path_rate'):
        backbone.pop(preset, None)
    backbone.update(golden['kwargs'], drop_path_rate=0., exact=exact)
    cfg.model.backbone = backbone
    cfg.model.head.num_classes = golden['kwargs']['num_classes']
    cfg.model.head.in_channels = golden['state_dict']['head.weight'].shape[1]
    cfg.model.pop('train_cfg', None)  # no mixup/cutmix: plain logits
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    converted, _ = convert_checkpoint({'model': golden['state_dict']})
    model.load_state_dict(converted['state_dict'], strict=True)
    return model.double().train()


def backbone(golden, exact):
    model = MODELS.build(dict(type=golden['type'], exact=exact,
                              **golden['kwargs']))
    model.load_state_dict(golden['state_dict'], strict=True)
    return model.double().train()


def gradients(model, inputs, forward):
    """Parameter gradients of a fixed random projection of the outputs
    (every output element weighs in, unlike a plain sum after a norm)."""
    outs = forward(model, inputs.double())
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(out.shape, generator=gen, dtype=out.dtype)
               for out in outs]
    loss = sum((out * w).sum() for out, w in zip(outs, weights))
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad for name, p in model.named_parameters()
            if p.requires_grad}


def assert_same_gradients(fast, exact):
    assert fast.keys() == exact.keys()
    missing = [name for name, grad in fast.items() if grad is None]
    assert not missing, f'no gradient in the fast path: {missing[:5]}'
    errors = {}
    for name, ref in exact.items():
        scale = ref.abs().max()
        if scale > 0:
            errors[name] = ((fast[name] - ref).abs().max() / scale).item()
        else:
            assert fast[name].abs().max() == 0, name
    worst = max(errors, key=errors.get)
    assert errors[worst] <= 1e-4, (worst, errors[worst])


@pytest.mark.parametrize('name', sorted(CLASSIFIERS))
def test_classifier_gradients_fast_equal_exact(golden_dir, name):
    golden = load_golden(golden_dir, f'{name}_cls')
    inputs = golden['cases'][0]['input']

    def forward(model, x):
        return [model(x, mode='tensor')]

    grads = [gradients(classifier(golden, CLASSIFIERS[name], exact),
                       inputs, forward) for exact in (False, True)]
    assert_same_gradients(*grads)


@pytest.mark.parametrize('name', ['agent_pvt', 'agent_swin'])
def test_downstream_backbone_gradients_fast_equal_exact(golden_dir, name):
    """At a detection-like size that is not the pretraining one (resized
    biases, agent grids other than the ImageNet ones, Swin's padding and
    shifted windows)."""
    golden = load_golden(golden_dir, name)
    inputs = next(case['input'] for case in golden['cases']
                  if tuple(case['input'].shape[-2:]) != (224, 224))

    def forward(model, x):
        return model(x)

    grads = [gradients(backbone(golden, exact), inputs, forward)
             for exact in (False, True)]
    assert_same_gradients(*grads)
