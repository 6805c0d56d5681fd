"""rf8lab on torch tensors (CPU and CUDA): the codec (bit-equal to the NumPy one), fake-quant
training, packed 8-bit linear layers, and the GG methods for torch modules."""
from ..optional import require

require("torch", "rf8lab.torch")
from ..codec.spec import weight_spec  # noqa: E402
from .codec import decode, encode, numpy_view, quantize, tensor_view  # noqa: E402 (after the guard)
from .modules import FakeQuantLinear, QuantLinear, convert, fake_quant, prepare_qat  # noqa: E402

__all__ = ["FakeQuantLinear", "QuantLinear", "convert", "decode", "encode", "fake_quant", "numpy_view", "prepare_qat",
           "quantize", "tensor_view", "weight_spec"]
