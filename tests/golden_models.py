"""Models of the golden fixtures (the official classifiers of both
repositories, the downstream Agent-PVT and Agent-Swin backbones), built
from their official kwargs and weights, for the tests that compare paths
and precisions on them."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from mmagent.apis import convert_checkpoint

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


def classifier_config(config, kwargs):
    """``configs/cls/{config}_in1k.py`` with a fixture's backbone (official
    kwargs, unchanged, no drop-path) in place of the preset."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/cls',
                                   f'{config}_in1k.py'))
    backbone = dict(cfg.model.backbone)
    for preset in ('arch', 'pretrain_img_size', 'drop_path_rate'):
        backbone.pop(preset, None)
    backbone.update(kwargs, drop_path_rate=0.)
    cfg.model.backbone = backbone
    cfg.model.head.num_classes = kwargs['num_classes']
    return cfg


def classifier(golden, config, exact):
    """The family's classifier config with the fixture's backbone (official
    kwargs) and weights, in training mode without stochastic layers."""
    import mmpretrain.models  # noqa: F401 (registers ImageClassifier)
    cfg = classifier_config(config, golden['kwargs'])
    cfg.model.backbone.exact = exact
    cfg.model.head.in_channels = golden['state_dict']['head.weight'].shape[1]
    cfg.model.pop('train_cfg', None)  # no mixup/cutmix: plain logits
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    converted, _ = convert_checkpoint({'model': golden['state_dict']})
    model.load_state_dict(converted['state_dict'], strict=True)
    return model.train()


def backbone(golden, exact):
    model = MODELS.build(dict(type=golden['type'], exact=exact,
                              **golden['kwargs']))
    model.load_state_dict(golden['state_dict'], strict=True)
    return model.train()
