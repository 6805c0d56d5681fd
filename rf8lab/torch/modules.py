"""Quantization-aware training and packed 8-bit weights for torch models.

- `fake_quant(x, fmt, ...)`: x rounded onto the format (forward), gradient passed straight through.
- `FakeQuantLinear`: nn.Linear whose weight (and optionally input) is fake-quantized; `prepare_qat`
  swaps every nn.Linear of a model for one, sharing the parameters.
- `RF8Linear`: stores uint8 codes and scale exponents (or int8's float scales) as buffers and decodes
  them on the fly; its output equals FakeQuantLinear's with the same settings exactly. `convert`
  swaps every nn.Linear for one. Despite the name it holds any rf8lab format.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..codec.layout import make_layout
from .codec import Encoded, decode, encode, quantize


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kw):
        return quantize(x, **kw).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None  # straight-through estimator


def fake_quant(x: torch.Tensor, fmt: str = "rf8", **kw) -> torch.Tensor:
    """x on fmt's grid in the forward pass, identity in the backward pass (straight through)."""
    return _FakeQuant.apply(x, {"fmt": fmt, **kw})


class FakeQuantLinear(nn.Linear):
    """nn.Linear with its weight fake-quantized (scale per output channel by default) and, with
    activations=True, its input too (per tensor)."""

    def __init__(self, in_features, out_features, bias=True, fmt="rf8", activations=False, device=None,
                 dtype=None, **quant):
        super().__init__(in_features, out_features, bias, device, dtype)
        self._configure(fmt, activations, quant)

    def _configure(self, fmt, activations, quant):
        self.fmt, self.activations = fmt, activations
        self.quant = {"scale": "channel", **quant}

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
            x = fake_quant(x, self.fmt, scale="tensor" if self.fmt != "mxfp8" else "block")
        return F.linear(x, fake_quant(self.weight, self.fmt, **self.quant), self.bias)


class RF8Linear(nn.Module):
    """A linear layer stored as 8-bit codes: buffers `codes` (uint8, out x in) and `scale_exp`
    (int32 per scale group) or `scale` (float64, int8); decoded to the input's dtype each call."""

    def __init__(self, enc: Encoded, bias: torch.Tensor | None, compute_dtype=torch.float32):
        super().__init__()
        self.fmt, self.rounding, self.overflow = enc.fmt, enc.rounding, enc.overflow
        self.granularity, self.axis, self.block = enc.layout.granularity, enc.layout.axis, enc.layout.block
        self.out_features, self.in_features = enc.codes.shape
        self.register_buffer("codes", enc.codes)
        self.register_buffer("scale_exp",
                             enc.scale_exp if enc.scale_exp is not None else torch.zeros(0, dtype=torch.int32))
        self.register_buffer("scale", enc.scale.to(torch.float64))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())
        self.compute_dtype = compute_dtype

    @classmethod
    def from_linear(cls, lin: nn.Linear, fmt="rf8", **quant) -> "RF8Linear":
        enc = encode(lin.weight.detach(), fmt, **{"scale": "channel", **quant})
        return cls(enc, lin.bias, lin.weight.dtype)

    def encoded(self) -> Encoded:
        layout = make_layout(tuple(self.codes.shape), self.granularity, self.axis, self.block)
        return Encoded(self.codes, self.scale_exp if self.scale_exp.numel() else None, self.scale, self.fmt, layout,
                       self.compute_dtype, self.rounding, self.overflow)

    def weight(self, dtype=None) -> torch.Tensor:
        return decode(self.encoded(), dtype or self.compute_dtype)

    def forward(self, x):
        return F.linear(x, self.weight(x.dtype), self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, fmt={self.fmt}, "
                f"scale={self.granularity}")


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


def convert(model: nn.Module, fmt: str | None = None, **quant) -> nn.Module:
    """Swap every nn.Linear for an RF8Linear holding its weight as codes (in place). A
    FakeQuantLinear keeps its own format and settings unless fmt / quant override them, so a
    QAT-trained model converts to exactly what it was trained to be; plain layers default to rf8."""
    def make(child):
        if type(child) is FakeQuantLinear:
            return RF8Linear.from_linear(child, fmt or child.fmt, **{**child.quant, **quant})
        return RF8Linear.from_linear(child, fmt or "rf8", **quant)

    return _swap(model, (nn.Linear, FakeQuantLinear), make)
