"""The backbones reproduce the official implementation's outputs."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS


def relative_max_error(out, ref):
    return ((out - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize('name', ['agent_pvt', 'agent_swin'])
@pytest.mark.parametrize('exact', [True, False], ids=['exact', 'fast'])
def test_golden_outputs(golden_dir, name, exact):
    golden = torch.load(
        osp.join(golden_dir, f'{name}_golden.pth'), map_location='cpu',
        weights_only=False)
    # The official kwargs go in unchanged.
    model = MODELS.build(dict(type=golden['type'], exact=exact,
                              **golden['kwargs']))
    model.load_state_dict(golden['state_dict'], strict=True)
    model.eval()
    assert len(golden['cases']) >= 1
    with torch.no_grad():
        for case in golden['cases']:
            outs = model(case['input'])
            assert len(outs) == len(case['outputs']) == 4
            for out, ref in zip(outs, case['outputs']):
                assert out.shape == ref.shape
                assert relative_max_error(out, ref) <= 1e-4, \
                    tuple(case['input'].shape)
