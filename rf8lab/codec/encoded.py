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

    codes      uint8, the input's shape
    scale_exp  int32 of shape `layout.scale_shape` (X per group; value = code value * 2^X), or None for
               int8, whose scale is not a power of two
    multiplier float64 per group (2^X, or int8's absmax / 127)
    spec       the QuantSpec it was encoded with; layout: which elements share a scale
    dtype      what quantize returns for this input (a numpy or a torch dtype); decode(enc, None) gives it
    """
    codes: Any
    scale_exp: Any
    multiplier: Any
    spec: QuantSpec
    layout: Layout
    dtype: Any

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
        """Storage: one byte per code plus one byte per E8M0-sized scale (4 for int8's float32-sized scale)."""
        n = math.prod(self.shape)
        if not self.layout.granularity:
            return n
        return n + (1 if self.scale_exp is not None else 4) * math.prod(self.layout.scale_shape)

    def __repr__(self) -> str:
        return (f"Encoded({self.spec.key!r}, shape={self.shape}, scale_shape={self.layout.scale_shape}, "
                f"codes={type(self.codes).__module__.split('.')[0]})")
