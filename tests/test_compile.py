"""torch.compile-friendliness: every family's forward traces into one graph
(no graph break) at two input sizes in inference, and in training (grad
enabled, where the attention kinds take their differentiable paths)."""
import pytest
import torch

from conftest import TINY_PVT, TINY_SWIN
from mmagent.models.backbones import (AgentCSWin, AgentDeiT, AgentPVT,
                                      AgentSwinTransformer, FLattenCSWin,
                                      FLattenPVT, FLattenPVTv2,
                                      FLattenSwinTransformer)

TINY_CSWIN = dict(embed_dim=16, depth=[1, 2, 2, 1], split_size=[1, 2, 7, 7],
                  num_heads=[2, 2, 4, 4], drop_path_rate=0.)
PVT_ARCH = {k: v for k, v in TINY_PVT.items() if k != 'drop_path_rate'}
FAMILIES = {
    'agent-pvt': lambda: AgentPVT(**TINY_PVT),
    'agent-swin': lambda: AgentSwinTransformer(**TINY_SWIN),
    'agent-deit': lambda: AgentDeiT(embed_dims=24, depth=3, num_heads=3,
                                    agent_num=9, agent_layer=2,
                                    drop_path_rate=0.),
    'agent-cswin': lambda: AgentCSWin(**TINY_CSWIN),
    'flatten-pvt': lambda: FLattenPVT(arch=PVT_ARCH, drop_path_rate=0.),
    'flatten-pvtv2': lambda: FLattenPVTv2(arch=PVT_ARCH, drop_path_rate=0.),
    'flatten-swin': lambda: FLattenSwinTransformer(
        arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                  attn_type='LLSS'),
        drop_path_rate=0.),
    'flatten-cswin': lambda: FLattenCSWin(**TINY_CSWIN),
}
# Dense families take any size; DeiT and CSwin a multiple of their patches
# and stripes.
SIZES = {'agent-deit': [(224, 224), (160, 256)],
         'agent-cswin': [(224, 224), (224, 448)],
         'flatten-cswin': [(224, 224), (224, 448)]}


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_forward_has_no_graph_break(family):
    model = FAMILIES[family]()
    sizes = SIZES.get(family, [(96, 128), (80, 176)])
    for training, size in [(False, sizes[0]), (False, sizes[1]),
                           (True, sizes[1])]:
        model.train(training)

        def forward(x):
            return model(x)

        torch._dynamo.reset()
        with torch.set_grad_enabled(training):
            explained = torch._dynamo.explain(forward)(
                torch.randn(1, 3, *size))
        assert explained.graph_break_count == 0, (
            training, size, [r.reason for r in explained.break_reasons])
        assert explained.graph_count == 1
    torch._dynamo.reset()
