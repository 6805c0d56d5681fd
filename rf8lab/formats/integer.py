"""Symmetric INT8: two's complement codes -127..127 with a float multiplier per group (absmax / 127)."""
from __future__ import annotations

from fractions import Fraction

from ..policies import Overflow, Rounding, ScaleRule
from .format import Decoded, Format


def int8_decode(code: int) -> Decoded:
    v = code - 256 if code >= 128 else code
    return (-1 if v < 0 else 1), Fraction(abs(v))


INT8 = Format(
    name="int8", summary="INT8 symmetric: codes -127..127 (two's complement), float scale absmax/127",
    decode_code=int8_decode, next_up=Fraction(128), nan_codes=None,
    roundings=(Rounding.NEAREST, Rounding.STOCHASTIC), overflows=(Overflow.SATURATE,),
    scales=(None, "tensor", "channel", "block"), default_scale="tensor", scale_rule=ScaleRule.ABSMAX)
