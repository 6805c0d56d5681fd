"""The Encoded container: codes plus what decoding needs, for numpy arrays and torch tensors alike."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .layout import Layout
from .spec import QuantSpec


@dataclass(frozen=True, eq=False)
class Encoded:
    """Codes plus what decoding needs (numpy arrays from rf8lab.encode, torch tensors from rf8lab.torch.encode).

    codes      uint8, the input's shape, one code per byte (below 2^bits for a format narrower than a byte)
    scale_exp  int32 of shape `layout.scale_shape`: each group's scale code (X, value = code value * 2^X;
               NVFP4: the E4M3 code of its block scale), or None for the integer formats, whose scale has
               no code
    multiplier float64 per group: what a code's value is multiplied by (2^X; an integer format's
               absmax / qmax; NVFP4's E4M3 block scale times its float32 tensor scale)
    spec       the QuantSpec it was encoded with; layout: which elements share a scale
    dtype      what quantize returns for this input (a numpy or a torch dtype); decode(enc, None) gives it

    Checked when made (ValueError or TypeError naming the field): a hand-built or loaded Encoded that
    decode could misread is refused here, never decoded into garbage.
    """
    codes: Any
    scale_exp: Any
    multiplier: Any
    spec: QuantSpec
    layout: Layout
    dtype: Any

    def __post_init__(self):
        if not isinstance(self.spec, QuantSpec):
            raise TypeError(f"Encoded.spec must be a QuantSpec; got {type(self.spec).__name__}")
        if not isinstance(self.layout, Layout):
            raise TypeError(f"Encoded.layout must be a Layout; got {type(self.layout).__name__}")
        if self.layout.granularity not in (self.spec.scale, None):
            raise ValueError(f"Encoded.layout has {self.layout.granularity!r} scales but the spec "
                             f"{self.spec.key!r} names {self.spec.scale!r}")
        library = _library(self.codes, "codes")
        _check(self.codes, "codes", library, ("uint8",), self.layout.shape)
        width = self.spec.format.bits
        count = self.codes.numel() if library == "torch" else self.codes.size
        if width < 8 and count:
            top = int(self.codes.max())
            if top >= 1 << width:
                raise ValueError(f"Encoded.codes holds {top}, not a {width}-bit {self.spec.fmt} code "
                                 f"(0..{(1 << width) - 1})")
        absmax = not self.spec.format.scale_codes
        if absmax != (self.scale_exp is None):
            raise ValueError(f"Encoded.scale_exp must be {'None' if absmax else 'an integer array'} for "
                             f"{self.spec.fmt}; got {'None' if self.scale_exp is None else 'an array'}")
        if self.scale_exp is not None:
            _check(self.scale_exp, "scale_exp", library, ("int32", "int64"), self.layout.scale_shape)
        _check(self.multiplier, "multiplier", library, ("float64",), self.layout.scale_shape)

    @property
    def fmt(self) -> str:
        return self.spec.fmt

    @property
    def rounding(self):
        return self.spec.rounding

    @property
    def overflow(self):
        return self.spec.overflow

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    @property
    def nbytes(self) -> int:
        """Storage packed as `rf8lab pack` would: the codes at their width (rf8lab.codec.bitpack), one byte per
        scale code (E8M0 or E4M3), 4 per float32-sized integer scale, and NVFP4's float32 tensor scale."""
        n = math.prod(self.shape)
        codes = (n * self.spec.format.bits + 7) // 8
        if not self.layout.granularity:
            return codes
        extra = 4 if self.spec.format.scale_rule == "nv" else 0
        return codes + (1 if self.scale_exp is not None else 4) * math.prod(self.layout.scale_shape) + extra

    def __repr__(self) -> str:
        return (f"Encoded({self.spec.key!r}, shape={self.shape}, scale_shape={self.layout.scale_shape}, "
                f"codes={type(self.codes).__module__.split('.')[0]})")


def _library(a, what: str) -> str:
    name = type(a).__module__.split(".")[0]
    if name not in ("numpy", "torch"):
        raise TypeError(f"Encoded.{what} must be a numpy array or a torch tensor; got {type(a).__name__}")
    return name


def _check(a, what: str, library: str, dtypes: tuple[str, ...], shape: tuple[int, ...]) -> None:
    own = _library(a, what)
    if own != library:
        raise TypeError(f"Encoded.{what} is a {own} array but the codes are {library}")
    dt = str(a.dtype).removeprefix("torch.")
    if dt not in dtypes:
        raise TypeError(f"Encoded.{what} must be {' or '.join(dtypes)}; got {dt}")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"Encoded.{what} has shape {tuple(a.shape)}; its layout needs {tuple(shape)}")
