"""The OCP and AMD 8-bit minifloats (E4M3, E5M2 and their FNUZ forms): sign, exponent, mantissa."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from ..policies import Overflow, Rounding, ScaleRule
from .format import Decoded, Format, finite, floor_log2

SCALES = (None, "tensor", "channel", "block")


def minifloat_decoder(ebits: int, mbits: int, bias: int, variant: str) -> Callable[[int], Decoded]:
    """IEEE-style sign/exponent/mantissa decoder. variant: "ieee" (inf and NaN in the top
    exponent), "fn" (no inf; all-ones is NaN), "fnuz" (no inf, no -0; 0x80 is NaN)."""
    emask, mmask = (1 << ebits) - 1, (1 << mbits) - 1

    def decode(code: int) -> Decoded:
        s, e, m = code >> 7, (code >> mbits) & emask, code & mmask
        sign = -1 if s else 1
        if variant == "fnuz" and code == 0x80:
            return -1, None
        if variant == "ieee" and e == emask:
            return sign, (math.inf if m == 0 else None)
        if variant == "fn" and e == emask and m == mmask:
            return sign, None
        if e == 0:
            return sign, Fraction(m, 1 << mbits) * Fraction(2) ** (1 - bias)
        return sign, (1 + Fraction(m, 1 << mbits)) * Fraction(2) ** (e - bias)

    return decode


def _ulp_above_max(decode, mbits: int) -> Fraction:
    top = max(m for c in range(128) for s, m in [decode(c)] if finite(m))
    return top + Fraction(2) ** (floor_log2(top) - mbits)


def minifloat(name, summary, ebits, mbits, bias, variant, overflows, **kw) -> Format:
    dec = minifloat_decoder(ebits, mbits, bias, variant)
    return Format(name=name, summary=summary, decode_code=dec, next_up=_ulp_above_max(dec, mbits),
                  roundings=(Rounding.NEAREST, Rounding.STOCHASTIC), overflows=overflows, scales=SCALES,
                  default_scale="tensor", scale_rule=ScaleRule.FIT, **kw)


E4M3 = minifloat("e4m3", "OCP FP8 E4M3 (FN): bias 7, no inf, NaN S.1111.111, max 448",
                 4, 3, 7, "fn", (Overflow.SATURATE, Overflow.NAN), nan_codes=(0x7F, 0xFF))
E5M2 = minifloat("e5m2", "OCP FP8 E5M2: IEEE-like, bias 15, inf and NaN, max 57344",
                 5, 2, 15, "ieee", (Overflow.SATURATE, Overflow.INF, Overflow.NAN), nan_codes=(0x7E, 0xFE))
E4M3FNUZ = minifloat("e4m3fnuz", "E4M3FNUZ: bias 8, no inf, no -0, NaN 0x80, max 240",
                     4, 3, 8, "fnuz", (Overflow.SATURATE, Overflow.NAN))
E5M2FNUZ = minifloat("e5m2fnuz", "E5M2FNUZ: bias 16, no inf, no -0, NaN 0x80, max 57344",
                     5, 2, 16, "fnuz", (Overflow.SATURATE, Overflow.NAN))
