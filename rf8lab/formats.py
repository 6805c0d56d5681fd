"""Format descriptions: what each of a format's 256 codes means, nothing about rounding.

One `Format` object per format, in the spirit of gfloat's FormatInfo. Values are exact
(`fractions.Fraction`) at scale exponent X = 0; every table the codecs use is derived here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Callable

from .policies import Overflow, Rounding, ScaleRule

# A decoded code: (sign, magnitude). sign is +1 or -1; magnitude is a Fraction,
# math.inf, or None for NaN.
Decoded = tuple[int, "Fraction | float | None"]


@dataclass(frozen=True)
class Format:
    name: str
    summary: str
    decode_code: Callable[[int], Decoded]
    next_up: Fraction  # the magnitude after `max` if the exponent range went on (overflow rule)
    roundings: tuple[Rounding, ...]
    overflows: tuple[Overflow, ...]
    scales: tuple[str | None, ...]  # accepted granularities
    default_scale: str
    scale_rule: ScaleRule
    nan_codes: tuple[int, int] | None = (0x80, 0x80)  # emitted for NaN: (positive, negative) input
    default_block: int = 32

    # ---- derived tables -------------------------------------------------------------
    @cached_property
    def decoded(self) -> tuple[Decoded, ...]:
        return tuple(self.decode_code(c) for c in range(256))

    @cached_property
    def magnitudes(self) -> tuple[Fraction, ...]:
        """Sorted finite magnitudes the encoder may produce, zero first; index = rank."""
        pos = {m for s, m in self.decoded if s > 0 and _finite(m)}
        neg = {m for s, m in self.decoded if s < 0 and _finite(m)}
        mags = sorted(m for m in pos if m == 0 or m in neg)  # symmetric range only
        return tuple(mags)

    @cached_property
    def rank(self) -> dict[Fraction, int]:
        """Magnitude -> rank."""
        return {m: i for i, m in enumerate(self.magnitudes)}

    @cached_property
    def _codes(self) -> dict[tuple[int, Fraction], int]:
        # Canonical code for (sign, magnitude): the largest code with that meaning. For RF8
        # this picks S.(E+1).1.01 over S.E.0.00 (see docs/rf8-format.md).
        table: dict[tuple[int, Fraction], int] = {}
        for c, (s, m) in enumerate(self.decoded):
            if _finite(m):
                table[(s, m)] = max(c, table.get((s, m), -1))
        return table

    def code_for(self, negative: bool, rank: int) -> int:
        """Canonical code of the magnitude with this rank and sign (zero: -0 if the format has it)."""
        mag = self.magnitudes[rank]
        key = (-1 if negative else 1, mag)
        return self._codes.get(key, self._codes[(1, mag)] if mag == 0 else -1)

    @cached_property
    def max(self) -> Fraction:
        return self.magnitudes[-1]

    @cached_property
    def min_positive(self) -> Fraction:
        return self.magnitudes[1]

    @cached_property
    def has_inf(self) -> bool:
        return any(m == math.inf for _, m in self.decoded)

    def nan_code(self, negative: bool = False) -> int:
        if self.nan_codes is None:
            raise ValueError(f"{self.name} has no NaN code")
        return self.nan_codes[1 if negative else 0]

    def inf_code(self, negative: bool) -> int:
        return next(c for c, (s, m) in enumerate(self.decoded) if m == math.inf and (s < 0) == negative)

    @cached_property
    def extended(self) -> tuple[Fraction, ...]:
        """The magnitudes, then next_up: the grid every rounding rule brackets on (past max: overflow)."""
        return self.magnitudes + (self.next_up,)

    @cached_property
    def rank_codes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The code of each rank for positive and for negative input."""
        n = len(self.magnitudes)
        return tuple(self.code_for(False, r) for r in range(n)), tuple(self.code_for(True, r) for r in range(n))

    @cached_property
    def special_codes(self) -> tuple[int, int, int, int]:
        """(NaN+, NaN-, inf+, inf-) as emitted by encode; 0 where the format has none."""
        nan_p, nan_n = self.nan_codes or (0, 0)
        return nan_p, nan_n, *((self.inf_code(False), self.inf_code(True)) if self.has_inf else (0, 0))

    @cached_property
    def values(self) -> tuple[float, ...]:
        """The 256 code values at X = 0 as floats (NaN for NaN codes, -0.0 where it exists)."""
        out = []
        for s, m in self.decoded:
            out.append(math.copysign(math.nan if m is None else float(m), s))
        return tuple(out)

    @cached_property
    def emax(self) -> int:
        """floor(log2(max)): the element's largest exponent (used by the MX scale rule)."""
        return floor_log2(self.max)


def _finite(m) -> bool:
    return m is not None and m != math.inf


def floor_log2(a: Fraction) -> int:
    """Exact floor(log2(a)) of a positive rational."""
    n = a.numerator.bit_length() - a.denominator.bit_length()
    # now 2^(n-1) < a < 2^(n+1); one comparison settles it
    return n if a >= Fraction(2) ** n else n - 1


def largest_float_below(approx: float, below) -> float:
    """The largest float64 f with below(Fraction(f)) true, starting near `approx`."""
    f = approx
    while not below(Fraction(f)):
        f = math.nextafter(f, -math.inf)
    while below(Fraction(math.nextafter(f, math.inf))):
        f = math.nextafter(f, math.inf)
    return f


# ---- RF8 v1 -----------------------------------------------------------------------------
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


def _rf8_decode(code: int) -> Decoded:
    if code == 0x00:
        return 1, Fraction(0)
    if code == 0x80:
        return -1, None  # NaN; its sign is the code's sign bit, as for every format here
    s, e, t, d = rf8_fields(code)
    return (-1 if s else 1), rf8_mantissa(t, d) * Fraction(2) ** (e - RF8_BIAS)


# ---- OCP / AMD minifloats ----------------------------------------------------------------
def _minifloat(ebits: int, mbits: int, bias: int, variant: str) -> Callable[[int], Decoded]:
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
    top = max(m for c in range(128) for s, m in [decode(c)] if _finite(m))
    return top + Fraction(2) ** (floor_log2(top) - mbits)


def _int8_decode(code: int) -> Decoded:
    v = code - 256 if code >= 128 else code
    return (-1 if v < 0 else 1), Fraction(abs(v))


def _fp8(name, summary, ebits, mbits, bias, variant, overflows, **kw) -> Format:
    dec = _minifloat(ebits, mbits, bias, variant)
    return Format(name=name, summary=summary, decode_code=dec, next_up=_ulp_above_max(dec, mbits),
                  roundings=(Rounding.NEAREST, Rounding.STOCHASTIC), overflows=overflows, **kw)


_FP8_SCALES = (None, "tensor", "channel", "block")

FORMATS: dict[str, Format] = {
    "rf8": Format(
        name="rf8", summary="RF8 v1: +-(2^e1 +- 2^e2), S|E4|T|D2, bias 15, 0x00 zero, 0x80 NaN",
        decode_code=_rf8_decode, next_up=Fraction(7, 4),
        roundings=(Rounding.NEAREST, Rounding.LOG, Rounding.STOCHASTIC), overflows=(Overflow.SATURATE, Overflow.NAN),
        scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.LOG),
    "e4m3": _fp8("e4m3", "OCP FP8 E4M3 (FN): bias 7, no inf, NaN S.1111.111, max 448",
                 4, 3, 7, "fn", (Overflow.SATURATE, Overflow.NAN), nan_codes=(0x7F, 0xFF),
                 scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.FIT),
    "e5m2": _fp8("e5m2", "OCP FP8 E5M2: IEEE-like, bias 15, inf and NaN, max 57344",
                 5, 2, 15, "ieee", (Overflow.SATURATE, Overflow.INF, Overflow.NAN), nan_codes=(0x7E, 0xFE),
                 scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.FIT),
    "e4m3fnuz": _fp8("e4m3fnuz", "E4M3FNUZ: bias 8, no inf, no -0, NaN 0x80, max 240",
                     4, 3, 8, "fnuz", (Overflow.SATURATE, Overflow.NAN),
                     scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.FIT),
    "e5m2fnuz": _fp8("e5m2fnuz", "E5M2FNUZ: bias 16, no inf, no -0, NaN 0x80, max 57344",
                     5, 2, 16, "fnuz", (Overflow.SATURATE, Overflow.NAN),
                     scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.FIT),
    "int8": Format(
        name="int8", summary="INT8 symmetric: codes -127..127 (two's complement), float scale absmax/127",
        decode_code=_int8_decode, next_up=Fraction(128), nan_codes=None,
        roundings=(Rounding.NEAREST, Rounding.STOCHASTIC), overflows=(Overflow.SATURATE,),
        scales=_FP8_SCALES, default_scale="tensor", scale_rule=ScaleRule.ABSMAX),
    "mxfp8": _fp8("mxfp8", "OCP MXFP8: E4M3 elements, one E8M0 scale per 32-element block",
                  4, 3, 7, "fn", (Overflow.SATURATE, Overflow.NAN), nan_codes=(0x7F, 0xFF),
                  scales=("block",), default_scale="block", scale_rule=ScaleRule.MX),
}


def get_format(fmt: "str | Format") -> Format:
    if isinstance(fmt, Format):
        return fmt
    try:
        return FORMATS[str(fmt).lower()]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}") from None


def format_names() -> tuple[str, ...]:
    """Names of the formats rf8lab implements."""
    return tuple(FORMATS)
