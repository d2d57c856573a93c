"""The backbone skeleton: the smallest family of docs/architecture.md built
from the page, the arguments every family shares, the per-stage parser,
the drop-path schedule, and PVT v2 as PVT with four flags."""
import os.path as osp
import re
import types

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.registry import MODELS

from mmagent.models.backbones import AgentPVT, FLattenPVT, FLattenPVTv2
from mmagent.models.backbones.base import drop_path_schedule, per_stage
from mmagent.models.layers import ATTENTIONS, AgentAttention


@pytest.fixture
def tiny_pyramid():
    """The family of 'Adding a backbone family', run as the page shows it,
    unregistered again after the test."""
    with open(osp.join(REPO_ROOT, 'docs', 'architecture.md')) as f:
        page = f.read()
    section = page[page.index('## Adding a backbone family'):]
    code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    module = types.ModuleType('tiny_pyramid')
    exec(compile(code, 'docs/architecture.md', 'exec'), module.__dict__)
    yield module.TinyPyramid
    MODELS._module_dict.pop('TinyPyramid')


def test_smallest_family_of_the_docs(tiny_pyramid):
    model = MODELS.build(dict(type='TinyPyramid')).eval()
    assert isinstance(model.stages[0][0].attn, AgentAttention)
    outs = model(torch.randn(2, 3, 64, 96))
    assert [o.shape for o in outs] == [(2, 32, 16, 24), (2, 64, 8, 12)]
    # what every family gets from the skeleton
    model = tiny_pyramid(attn_type='LB', frozen_stages=1, out_indices=(1, ),
                         attn_cfgs=dict(focused_linear=dict(
                             focusing_factor=2)))
    attn = model.stages[0][0].attn
    assert isinstance(attn, ATTENTIONS.get('focused_linear'))
    assert attn.focusing_factor == 2 and attn.dwc.kernel_size == (3, 3)
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[1].parameters())
    assert len(model.train()(torch.randn(1, 3, 64, 64))) == 1
    with pytest.raises(ValueError, match='out_indices'):
        tiny_pyramid(out_indices=(2, ))
    with pytest.raises(ValueError, match='drop_path_rate'):
        tiny_pyramid(drop_path_rate=2)
    with pytest.raises(TypeError, match='did you mean kernel_size'):
        tiny_pyramid(kernal_size=5)


def test_arguments_recorded_once_under_our_names():
    model = AgentPVT(img_size=256, in_chans=1, depths=[1, 1, 1, 1],
                     drop_rate=0.1, with_cp=True)
    args = model.init_args
    assert (args['pretrain_img_size'], args['in_channels'], args['with_cp'],
            args['out_indices']) == (256, 1, True, (0, 1, 2, 3))
    block = model.block1[0]
    assert block.with_cp and block.mlp.drop.p == 0.1
    assert block.attn.proj_drop.p == 0.1


def test_per_stage_values():
    assert per_stage('x', 3, 4) == [3] * 4
    assert per_stage('x', '8421', 4) == [8, 4, 2, 1]
    assert per_stage('x', '56-28-14-7', 4) == [56, 28, 14, 7]
    assert per_stage('x', ['9', 16, '49', 49], 4) == [9, 16, 49, 49]
    for bad in ('84a1', '842', '56-28-14', [1, 2, 3], ['1', 'a', '2', '3']):
        with pytest.raises(ValueError, match='^x needs'):
            per_stage('x', bad, 4)


def test_drop_path_schedule_is_linear_over_all_blocks():
    rates = drop_path_schedule(0.3, [1, 2, 1])
    assert [len(r) for r in rates] == [1, 2, 1]
    assert sum(rates, []) == pytest.approx([0., 0.1, 0.2, 0.3])


def test_pvt_v2_is_pvt_with_four_flags():
    kwargs = dict(arch=dict(embed_dims=[16, 32, 48, 64], depths=[1, 1, 1, 1],
                            num_heads=[1, 2, 3, 4], mlp_ratios=[2] * 4),
                  img_size=64)
    flags = dict(use_abs_pos_embed=False, overlapping_patch_embed=True,
                 use_conv_ffn=True, norm_after_stage=True)
    v2 = FLattenPVTv2(**kwargs).eval()
    pvt = FLattenPVT(**kwargs, **flags).eval()
    assert list(v2.state_dict()) == list(pvt.state_dict())
    pvt.load_state_dict(v2.state_dict())
    x = torch.randn(1, 3, 70, 90)
    with torch.no_grad():
        for a, b in zip(v2(x), pvt(x)):
            torch.testing.assert_close(a, b)
    assert v2.patch_embed1.proj.kernel_size == (7, 7)
    assert 'pos_embed1' not in dict(v2.named_parameters())
    with pytest.raises(TypeError, match='fixes use_conv_ffn'):
        FLattenPVTv2(use_conv_ffn=False)


def test_cswin_blocks_keep_the_official_parameter_order():
    """A resumed run's optimizer state follows the parameter order: CSWin's
    blocks register qkv, norm1, proj, attns, mlp, norm2 as officially."""
    from mmagent.models.backbones import AgentCSWin
    model = AgentCSWin(embed_dim=16, depth=[1, 1, 1, 1], num_heads=[2] * 4,
                       split_size=[1, 2, 7, 7])
    names = [n for n, _ in model.stage1[0].named_children()]
    assert names == ['qkv', 'norm1', 'proj', 'attns', 'drop_path', 'mlp',
                     'norm2']
    assert [n for n, _ in AgentPVT(arch=dict(
        embed_dims=[16] * 4, depths=[1] * 4, num_heads=[1] * 4,
        mlp_ratios=[2] * 4)).block1[0].named_children()] == [
            'norm1', 'attn', 'drop_path', 'norm2', 'mlp']


@pytest.mark.parametrize('fixture,family', [
    ('agent_pvt', 'AgentPVT'), ('flatten_pvt', 'FLattenPVT'),
    ('flatten_pvt_v2', 'FLattenPVTv2'),
    ('agent_swin', 'AgentSwinTransformer'),
    ('flatten_swin', 'FLattenSwinTransformer'),
    ('agent_cswin', 'AgentCSWin'), ('flatten_cswin', 'FLattenCSWin'),
    ('agent_deit', 'AgentDeiT')])
def test_official_checkpoints_are_read_by_their_familys_layout(
        golden_dir, fixture, family):
    """The classification task converts an official ImageNet checkpoint
    with the layout its family declares (which stages, which final norm,
    which unused weights)."""
    from mmagent.models import backbones
    from mmagent.tasks.cls import official_layout_of
    state_dict = torch.load(
        osp.join(golden_dir, f'{fixture}_cls_golden.pth'),
        weights_only=False)['state_dict']
    layout = getattr(backbones, family).official_layout
    assert official_layout_of(state_dict) is layout
    if layout.stage_key:  # the final norm: the last stage's output norm
        assert layout.last_stage(state_dict) == 3
