"""Minifloats: sign (or none), exponent, trailing significand, and which codes are NaN and inf.

One builder, `minifloat`, describes every float format of 8 bits or fewer that the field uses: the OCP
8-bit formats and their FNUZ forms (OCP 8-bit Floating Point Specification v1.0; AMD/Graphcore FNUZ),
ml_dtypes 0.7's IEEE-like and unsigned types, the OCP MX v1.0 element formats (FP6 E2M3/E3M2, FP4
E2M1), and IEEE P3109's binary8p{P}{s|u}{e|f} family (interim report v4.0, as gfloat 0.5 encodes it).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from ..policies import GRID_ROUNDINGS, Overflow, ScaleRule
from .format import Decoded, Format, finite, floor_log2

SCALES = (None, "tensor", "channel", "block")
# Where each kind of format keeps its NaN and infinities ("specials"):
#   "ieee"   the top exponent: mantissa 0 is +-inf, the rest NaN (e5m2, ml_dtypes e4m3 and e3m4)
#   "fn"     no inf; the all-ones magnitude is NaN (e4m3fn)
#   "fnuz"   no inf, no -0; the sign-only code is NaN (e4m3fnuz, e5m2fnuz, e4m3b11fnuz)
#   "fnu"    unsigned, no inf; the all-ones code is NaN (e5m3fnu)
#   "none"   every code is a finite number (OCP FP6 and FP4)
#   "p3109e" / "p3109f"  P3109 extended / finite: signed 0x80 NaN and no -0, +-inf at the top magnitude
#            (extended); unsigned 0xFF NaN, 0xFE +inf (extended)
SPECIALS = ("ieee", "fn", "fnuz", "fnu", "none", "p3109e", "p3109f")


def minifloat_decoder(ebits: int, mbits: int, bias: int, specials: str, signed: bool = True
                      ) -> Callable[[int], Decoded]:
    """Decoder of a code of 1 + ebits + mbits bits (signed) or ebits + mbits bits (unsigned)."""
    if specials not in SPECIALS:
        raise ValueError(f"specials={specials!r}; choose one of {', '.join(SPECIALS)}")
    width = ebits + mbits + signed
    emask, mmask, magmask = (1 << ebits) - 1, (1 << mbits) - 1, (1 << (ebits + mbits)) - 1
    top = (1 << width) - 1

    def decode(code: int) -> Decoded:
        s = (code >> (ebits + mbits)) if signed else 0
        mag = code & magmask
        e, m = mag >> mbits, mag & mmask
        sign = -1 if s else 1
        if specials in ("fnuz", "p3109e", "p3109f") and signed and code == 1 << (width - 1):
            return -1, None
        if specials in ("fnu", "p3109e", "p3109f") and not signed and code == top:
            return 1, None
        if specials == "ieee" and e == emask:
            return sign, (math.inf if m == 0 else None)
        if specials == "fn" and mag == magmask:
            return sign, None
        if specials == "p3109e" and mag == (magmask if signed else magmask - 1):
            return sign, math.inf
        if e == 0:
            return sign, Fraction(m, 1 << mbits) * Fraction(2) ** (1 - bias)
        return sign, (1 + Fraction(m, 1 << mbits)) * Fraction(2) ** (e - bias)

    return decode


def _ulp_above_max(decode, magnitudes: int, mbits: int) -> Fraction:
    """max + one ulp at its exponent. Magnitudes grow with the code's magnitude bits, so max is the first
    finite value from the top (decoding every code here took a sixth of a second at import)."""
    top = next(m for c in range(magnitudes - 1, -1, -1) for s, m in [decode(c)] if finite(m))
    return top + Fraction(2) ** (floor_log2(top) - mbits)


def _nan_codes(specials: str, ebits: int, mbits: int, signed: bool) -> tuple[int, int] | None:
    """The NaN code emitted for positive and negative NaN input: the quiet NaN with the input's sign
    (IEEE-like), the all-ones magnitude with its sign (fn), or the format's single NaN."""
    width = ebits + mbits + signed
    sign = 1 << (width - 1) if signed else 0
    if specials == "ieee":
        q = (((1 << ebits) - 1) << mbits) | (1 << (mbits - 1))
        return q, q | sign
    if specials == "fn":
        return (1 << (width - 1)) - 1, (1 << width) - 1
    if specials == "none":
        return None
    single = 1 << (width - 1) if signed else (1 << width) - 1
    return single, single


def minifloat(name: str, summary: str, ebits: int, mbits: int, bias: int, specials: str, *, signed: bool = True,
              source: str = "", **kw) -> Format:
    """The Format of a minifloat; its roundings are every rule onto a value set, its overflow modes those
    its specials allow (sat-propagate and ovf-inf need an infinity, nan a NaN)."""
    dec = minifloat_decoder(ebits, mbits, bias, specials, signed)
    width = ebits + mbits + signed
    nan = _nan_codes(specials, ebits, mbits, signed)
    has_inf = specials == "ieee" or specials == "p3109e"
    overflows = (Overflow.SAT_FINITE,) + ((Overflow.SAT_PROPAGATE, Overflow.OVF_INF) if has_inf else ()) + \
        ((Overflow.NAN,) if nan else ())
    return Format(name=name, summary=summary, decode_code=dec, next_up=_ulp_above_max(dec, 1 << (ebits + mbits), mbits),
                  roundings=GRID_ROUNDINGS, overflows=overflows, scales=SCALES, default_scale="tensor",
                  scale_rule=ScaleRule.FIT, nan_codes=nan, bits=width, signed=signed, source=source, **kw)


OCP_FP8 = "OCP 8-bit Floating Point Specification (OFP8) v1.0"
OCP_MX = "OCP Microscaling Formats (MX) Specification v1.0"
ML_DTYPES = "ml_dtypes 0.7"
P3109 = "IEEE P3109 interim report v4.0 (as gfloat 0.5 encodes it)"

E4M3 = minifloat("e4m3", "OCP FP8 E4M3 (FN): bias 7, no inf, NaN S.1111.111, max 448",
                 4, 3, 7, "fn", source=f"{OCP_FP8}; ml_dtypes float8_e4m3fn")
E5M2 = minifloat("e5m2", "OCP FP8 E5M2: IEEE-like, bias 15, inf and NaN, max 57344",
                 5, 2, 15, "ieee", source=f"{OCP_FP8}; ml_dtypes float8_e5m2")
E4M3FNUZ = minifloat("e4m3fnuz", "E4M3FNUZ: bias 8, no inf, no -0, NaN 0x80, max 240",
                     4, 3, 8, "fnuz", source=f"AMD/Graphcore FNUZ; {ML_DTYPES} float8_e4m3fnuz")
E5M2FNUZ = minifloat("e5m2fnuz", "E5M2FNUZ: bias 16, no inf, no -0, NaN 0x80, max 57344",
                     5, 2, 16, "fnuz", source=f"AMD/Graphcore FNUZ; {ML_DTYPES} float8_e5m2fnuz")
E4M3B11FNUZ = minifloat("e4m3b11fnuz", "E4M3B11FNUZ: bias 11, no inf, no -0, NaN 0x80, max 30",
                        4, 3, 11, "fnuz", source=f"Graphcore/TPU; {ML_DTYPES} float8_e4m3b11fnuz")
E4M3_IEEE = minifloat("e4m3-ieee", "E4M3 IEEE-like: bias 7, inf 0x78, NaN above it, max 240",
                      4, 3, 7, "ieee", source=f"{ML_DTYPES} float8_e4m3")
E3M4 = minifloat("e3m4", "E3M4 IEEE-like: bias 3, inf 0x70, NaN above it, max 15.5",
                 3, 4, 3, "ieee", source=f"{ML_DTYPES} float8_e3m4")
E5M3FNU = minifloat("e5m3fnu", "E5M3FNU: unsigned, bias 15, no inf, NaN 0xFF, max 114688",
                    5, 3, 15, "fnu", signed=False, source=f"{ML_DTYPES} float8_e5m3fnu")
E2M3 = minifloat("e2m3", "OCP FP6 E2M3: 6 bits, bias 1, no inf or NaN, max 7.5",
                 2, 3, 1, "none", source=f"{OCP_MX}; {ML_DTYPES} float6_e2m3fn")
E3M2 = minifloat("e3m2", "OCP FP6 E3M2: 6 bits, bias 3, no inf or NaN, max 28",
                 3, 2, 3, "none", source=f"{OCP_MX}; {ML_DTYPES} float6_e3m2fn")
E2M1 = minifloat("e2m1", "OCP FP4 E2M1: 4 bits, bias 1, no inf or NaN, max 6",
                 2, 1, 1, "none", source=f"{OCP_MX}; {ML_DTYPES} float4_e2m1fn")


def p3109(precision: int, signed: bool = True, extended: bool = True) -> Format:
    """P3109 binary8p{P}{s|u}{e|f}: 8 bits, precision P (P - 1 trailing significand bits), bias
    2^(7 - P) signed or 2^(8 - P) unsigned, subnormals, no -0, one NaN; extended formats have +-inf."""
    if not 1 <= precision <= 7:  # unsigned p8 (gfloat has it) needs 8-bit thresholds, past the kernels' keys
        raise ValueError(f"rf8lab implements P3109 binary8 precisions 1..7; got {precision}")
    mbits = precision - 1
    ebits = 8 - signed - mbits
    bias = 2 ** (7 - precision) if signed else 2 ** (8 - precision)
    su, ef = "s" if signed else "u", "e" if extended else "f"
    return minifloat(f"binary8p{precision}{su}{ef}",
                     f"P3109 binary8p{precision}{su}{ef}: {'signed' if signed else 'unsigned'}, "
                     f"{'extended (+-inf)' if extended else 'finite'}, {ebits} exponent bits, bias {bias}",
                     ebits, mbits, bias, "p3109e" if extended else "p3109f", signed=signed, source=P3109)


P3109_FORMATS = tuple(p3109(p, s, e) for p in range(1, 8) for s in (True, False) for e in (True, False))
