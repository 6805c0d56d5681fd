"""rf8lab on torch tensors (CPU and CUDA): the codec (bit-equal to the NumPy one), fake-quant
training, packed 8-bit linear layers, and the GG methods for torch modules."""
from ..optional import require

require("torch", "rf8lab.torch")
from .codec import Encoded, decode, encode, quantize  # noqa: E402 (after the guard)
from .modules import FakeQuantLinear, RF8Linear, convert, fake_quant, prepare_qat  # noqa: E402

__all__ = ["Encoded", "FakeQuantLinear", "RF8Linear", "convert", "decode", "encode", "fake_quant", "prepare_qat",
           "quantize"]
