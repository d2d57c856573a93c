"""Binary weights stored as bits (utils/bitpack.py)."""
import torch

from mmagent.models.layers.binary import BinaryLinear


def test_bit_packing_of_odd_widths_and_constant_rows():
    """Widths that are no multiple of 8 (padded bits in the last byte) and
    rows whose centred weights are all zero (signs +1) pack and unpack to
    a layer with identical outputs."""
    from mmagent.utils.bitpack import (pack_state_dict, unpack_state_dict,
                                       weight_signs)
    torch.manual_seed(0)
    layer = BinaryLinear(13, 6)
    with torch.no_grad():
        layer.weight[2] = 0.7  # constant row: centred to zeros
        layer.weight[4] = 0.
    x = torch.randn(5, 13)
    expected = layer(x)
    model = torch.nn.Sequential(layer)
    packed = pack_state_dict(model.state_dict())
    assert packed['binary_weights']['0']['bits'].shape == (6, 2)  # 13 bits
    state_dict = unpack_state_dict(packed)
    assert torch.equal(state_dict['0.weight'], weight_signs(layer.weight))
    assert (state_dict['0.weight'][[2, 4]] == 1).all()
    reloaded = torch.nn.Sequential(BinaryLinear(13, 6))
    reloaded.load_state_dict(state_dict)
    assert torch.equal(reloaded(x), expected)
