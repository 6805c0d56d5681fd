"""RF8 v1, every fact in one place: the byte layout, the mantissa table and the code meanings
(docs/rf8-format.md is the same in prose). The log-domain rounding rule is in rf8lab/codec/reference.py."""
from __future__ import annotations

from fractions import Fraction

from ..policies import GRID_ROUNDINGS, Overflow, Rounding, ScaleRule
from .format import Decoded, Format

# bit 7: S | bits 6..3: E (0..15) | bit 2: T | bits 1..0: D      |v| = m(T, D) * 2^(E - 15 + X)
#   T = 0: m = 1 + 2^-(D+1)        -> 1.5, 1.25, 1.125, 1.0625
#   T = 1: m = 1 - 2^-(D+1), D >= 1 -> 0.75, 0.875, 0.9375;  T = 1, D = 0: m = 1 (no residual)
# 0x00 is zero, 0x80 is NaN.
RF8_BIAS = 15


def rf8_mantissa(t: int, d: int) -> Fraction:
    if t == 1 and d == 0:
        return Fraction(1)
    step = Fraction(1, 2 ** (d + 1))
    return 1 + step if t == 0 else 1 - step


def rf8_fields(code: int) -> tuple[int, int, int, int]:
    """(S, E, T, D) of a code."""
    return code >> 7, (code >> 3) & 15, (code >> 2) & 1, code & 3


def rf8_decode(code: int) -> Decoded:
    if code == 0x00:
        return 1, Fraction(0)
    if code == 0x80:
        return -1, None  # NaN; its sign is the code's sign bit, as for every format here
    s, e, t, d = rf8_fields(code)
    return (-1 if s else 1), rf8_mantissa(t, d) * Fraction(2) ** (e - RF8_BIAS)


RF8 = Format(
    name="rf8", summary="RF8 v1: +-(2^e1 +- 2^e2), S|E4|T|D2, bias 15, 0x00 zero, 0x80 NaN",
    decode_code=rf8_decode, next_up=Fraction(7, 4),  # 1.75 = 1.5 + 2^-2: the overflow boundary is 1.625
    roundings=GRID_ROUNDINGS + (Rounding.LOG,), overflows=(Overflow.SAT_FINITE, Overflow.NAN),
    scales=(None, "tensor", "channel", "block"), default_scale="tensor", scale_rule=ScaleRule.LOG,
    source="arXiv:2506.00486 (RF8 v1); docs/rf8-format.md")
