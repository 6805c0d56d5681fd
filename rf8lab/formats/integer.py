"""Integers with a float multiplier per group (absmax / qmax): signed formats are symmetric, codes
-qmax..qmax in two's complement (the most negative code decodes but is never produced); unsigned
formats hold 0..2^bits - 1. INT8 is the usual symmetric int8; int2, int4, uint2 and uint4 are
ml_dtypes 0.7's narrow integer types."""
from __future__ import annotations

from fractions import Fraction

from ..policies import GRID_ROUNDINGS, Overflow, ScaleRule
from .format import Decoded, Format


def integer(name: str, bits: int, signed: bool, summary: str, source: str) -> Format:
    def decode(code: int) -> Decoded:
        v = code - (1 << bits) if signed and code >= 1 << (bits - 1) else code
        return (-1 if v < 0 else 1), Fraction(abs(v))

    qmax = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    return Format(name=name, summary=summary, decode_code=decode, next_up=Fraction(qmax + 1), nan_codes=None,
                  roundings=GRID_ROUNDINGS, overflows=(Overflow.SAT_FINITE,),
                  scales=(None, "tensor", "channel", "block"), default_scale="tensor", scale_rule=ScaleRule.ABSMAX,
                  bits=bits, signed=signed, source=source)


INT8 = integer("int8", 8, True, "INT8 symmetric: codes -127..127 (two's complement), float scale absmax/127",
               "symmetric int8 quantization (as PyTorch's qint8 with a symmetric absmax scale)")
INT4 = integer("int4", 4, True, "INT4 symmetric: codes -7..7 (two's complement), float scale absmax/7",
               "ml_dtypes 0.7 int4")
INT2 = integer("int2", 2, True, "INT2 symmetric: codes -1..1 (two's complement), float scale absmax",
               "ml_dtypes 0.7 int2")
UINT4 = integer("uint4", 4, False, "UINT4: codes 0..15, float scale absmax/15; x >= 0 only",
                "ml_dtypes 0.7 uint4")
UINT2 = integer("uint2", 2, False, "UINT2: codes 0..3, float scale absmax/3; x >= 0 only",
                "ml_dtypes 0.7 uint2")
