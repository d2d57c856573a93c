"""What reduced precision alone costs a model: its forward in fp32 with
every product's operands and result rounded to fp16 or bf16 (the roundings
autocast makes, without the hardware's accumulation order, so the same
figures on every machine). The mixed-precision tests bound autocast's
error by a multiple of this one (see test_engine/test_amp.py)."""
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

#: Products that CPU and CUDA autocast run in reduced precision (their
#: lower-precision op lists), as reached from Python by the models here.
PRODUCTS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__,
            torch.mm, torch.bmm, torch.baddbmm, torch.addmm, torch.einsum,
            F.linear, F.conv2d, F.scaled_dot_product_attention}


class RoundProducts(TorchFunctionMode):
    """fp32 arithmetic with every product's operands and result rounded to
    ``dtype``."""

    def __init__(self, dtype=torch.bfloat16):
        super().__init__()
        self.dtype = dtype

    def _round(self, value):
        if torch.is_tensor(value) and value.is_floating_point():
            return value.to(self.dtype).to(value.dtype)
        return value

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in PRODUCTS:
            return func(*args, **kwargs)
        args = tuple(self._round(a) for a in args)
        kwargs = {k: self._round(v) for k, v in kwargs.items()}
        return self._round(func(*args, **kwargs))


def relative_error(out, ref):
    """Largest absolute difference relative to the reference's largest
    magnitude (shapes must agree: no broadcasting)."""
    assert out.shape == ref.shape, (out.shape, ref.shape)
    ref = ref.double()
    return ((out.double() - ref).abs().max() / ref.abs().max()).item()
