"""Quantization-aware training and packed 8-bit weights for torch models.

- `fake_quant(x, fmt, ...)`: x rounded onto the format (forward), gradient passed straight through.
- `FakeQuantLinear`: nn.Linear whose weight (and optionally input) is fake-quantized; `prepare_qat`
  swaps every nn.Linear of a model for one, sharing the parameters.
- `QuantLinear`: stores uint8 codes and scale exponents (or int8's float scales) as buffers and decodes
  them on the fly, in any rf8lab format; its output equals FakeQuantLinear's with the same spec exactly.
  `convert` swaps every nn.Linear for one.

A layer's quantizer is one QuantSpec (`layer.spec`); weights default to per-channel scales where the
format has them (mxfp8: its 32-element blocks).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..codec.encoded import Encoded
from ..codec.spec import QuantSpec, as_spec, weight_spec
from ..optional import available
from .codec import decode, encode, quantize


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, spec):
        return quantize(x, spec).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None  # straight-through estimator


def fake_quant(x: torch.Tensor, fmt="rf8", **kw) -> torch.Tensor:
    """x on fmt's grid in the forward pass (fmt and kw as rf8lab.torch.quantize), identity in the backward
    pass (straight through)."""
    return _FakeQuant.apply(x, as_spec(fmt, **kw))


class FakeQuantLinear(nn.Linear):
    """nn.Linear with its weight fake-quantized (`weight_spec(fmt, **quant)`: per output channel by default)
    and, with activations=True, its input too (the format's default scale: per tensor, mxfp8 per block)."""

    def __init__(self, in_features, out_features, bias=True, fmt="rf8", activations=False, device=None,
                 dtype=None, **quant):
        super().__init__(in_features, out_features, bias, device, dtype)
        self._configure(fmt, activations, quant)

    def _configure(self, fmt, activations, quant):
        self.spec, self.activations = weight_spec(fmt, **quant), activations
        # inputs: the format's default scale (per tensor; mxfp8 per block), the weight's rounding and overflow
        self.activation_spec = QuantSpec(self.spec.fmt, self.spec.rounding, overflow=self.spec.overflow,
                                         sr_bits=self.spec.sr_bits)

    @classmethod
    def from_linear(cls, lin: nn.Linear, fmt="rf8", activations=False, **quant) -> "FakeQuantLinear":
        m = cls.__new__(cls)  # no weight of its own: it shares lin's parameters
        nn.Module.__init__(m)
        m.in_features, m.out_features = lin.in_features, lin.out_features
        m.weight, m.bias = lin.weight, lin.bias
        m._configure(fmt, activations, quant)
        return m

    def forward(self, x):
        if self.activations:
            x = fake_quant(x, self.activation_spec)
        return F.linear(x, fake_quant(self.weight, self.spec), self.bias)

    def extra_repr(self):
        return super().extra_repr() + f", spec={self.spec.key!r}, activations={self.activations}"


class QuantLinear(nn.Module):
    """A linear layer stored as 8-bit codes of any rf8lab format: buffers `codes` (uint8, out x in) and
    `scale_exp` (int32 per scale group; empty for int8) and `multiplier` (float64 per group); decoded to the
    input's dtype each call."""

    def __init__(self, enc: Encoded, bias: torch.Tensor | None, compute_dtype=torch.float32, cache: bool = False):
        super().__init__()
        self.cache = cache  # keep the decoded weight between calls (not saved in the state dict)
        self._cached: tuple | None = None
        self.spec, self.layout = enc.spec, enc.layout
        self.out_features, self.in_features = enc.codes.shape
        self.register_buffer("codes", enc.codes)
        self.register_buffer("scale_exp",
                             enc.scale_exp if enc.scale_exp is not None else torch.zeros(0, dtype=torch.int32))
        self.register_buffer("multiplier", enc.multiplier.to(torch.float64))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.compute_dtype = compute_dtype

    @classmethod
    def from_linear(cls, lin: nn.Linear, fmt="rf8", cache: bool = False, **quant) -> QuantLinear:
        enc = encode(lin.weight.detach(), weight_spec(fmt, **quant))
        return cls(enc, lin.bias, lin.weight.dtype, cache)

    def encoded(self) -> Encoded:
        return Encoded(self.codes, self.scale_exp if self.scale_exp.numel() else None, self.multiplier, self.spec,
                       self.layout, self.compute_dtype)

    def dequantize(self, dtype=None) -> torch.Tensor:
        """The decoded weight (out x in) in dtype (default: the dtype of the Linear it replaced)."""
        return decode(self.encoded(), dtype or self.compute_dtype)

    @property
    def weight(self) -> torch.Tensor:
        """The decoded weight, as nn.Linear's `weight` reads (for code that inspects layer.weight: its device,
        dtype, shape); decoded at each access, not a parameter."""
        return self.dequantize()

    def forward(self, x):
        if not self.cache or _w8a16_kernels(x, self.layout):
            return packed_linear(x, self.encoded(), self.bias)
        # decoded once per dtype and device; new codes (load_state_dict, an in-place edit) bump the versions
        key = (x.dtype, self.codes.device, self.codes.data_ptr(), self.codes._version, self.scale_exp._version,
               self.multiplier._version)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self.dequantize(x.dtype))
        return F.linear(x, self._cached[1], self.bias)

    def cache_bytes(self) -> int:
        """Memory the decode-once cache holds now: one decoded weight (out x in values of the input's dtype)."""
        return 0 if self._cached is None else self._cached[1].numel() * self._cached[1].element_size()

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, spec={self.spec.key!r}, "
                f"cache={self.cache}")


def packed_linear(x: torch.Tensor, enc: Encoded, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear(x, decode(enc, x.dtype), bias) for an (out, in) weight's codes: through the Triton W8A16
    kernel (no float weight in memory) where it runs, otherwise through the decoded weight. QuantLinear and
    the torchao weight tensor (rf8lab.torch.torchao) both call this."""
    kernels = _w8a16_kernels(x, enc.layout)
    if kernels:
        return kernels.linear(x, enc, bias)
    return F.linear(x, decode(enc, x.dtype), bias)


def _w8a16_kernels(x: torch.Tensor, layout):
    """rf8lab.torch.triton_kernels where its W8A16 matmul takes this input and weight layout: a CUDA input of
    an activation dtype it reads, with triton installed; otherwise None."""
    kernels = available("rf8lab.torch.triton_kernels") if x.is_cuda else None
    return kernels if kernels and x.dtype in kernels.ACTIVATION_DTYPES and kernels.reads(layout) else None




def _swap(model: nn.Module, types, make) -> nn.Module:
    """Replace, in place and at any depth, every child whose type is in `types` by make(child)."""
    for name, child in list(model.named_children()):
        if type(child) in types:
            setattr(model, name, make(child))
        else:
            _swap(child, types, make)
    return model


def prepare_qat(model: nn.Module, fmt="rf8", activations=False, **quant) -> nn.Module:
    """Swap every nn.Linear for a FakeQuantLinear sharing its parameters (in place)."""
    return _swap(model, (nn.Linear,), lambda lin: FakeQuantLinear.from_linear(lin, fmt, activations, **quant))


def convert(model: nn.Module, fmt=None, cache: bool = False, **quant) -> nn.Module:
    """Swap every nn.Linear for a QuantLinear holding its weight as codes (in place). A
    FakeQuantLinear keeps its own spec unless fmt / quant override it, so a QAT-trained model converts
    to exactly what it was trained to be; plain layers default to rf8. cache=True keeps each layer's decoded
    weight between calls (QuantLinear.cache: faster forward, the float weight's memory again)."""
    def make(child):
        if type(child) is FakeQuantLinear:
            if fmt is None:
                return QuantLinear.from_linear(child, child.spec, cache, **quant)
            if isinstance(fmt, str) and ":" not in fmt:  # another format, the layer's other settings
                s = child.spec
                kept = {"rounding": s.rounding, "scale": s.scale, "overflow": s.overflow, "axis": s.axis,
                        "block": s.block, "sr_bits": s.sr_bits}
                return QuantLinear.from_linear(child, fmt, cache, **{**kept, **quant})
            return QuantLinear.from_linear(child, fmt, cache, **quant)
        return QuantLinear.from_linear(child, fmt or "rf8", cache, **quant)

    return _swap(model, (nn.Linear, FakeQuantLinear), make)
