"""The per-group scale rule, written once for numpy arrays and torch tensors.

A group's largest finite magnitude amax = m * 2^e (m in [1, 2)) sets its power-of-two scale 2^X;
each format names its rule (`Format.scale_rule`):
- "log" (RF8): X = e + (m > sqrt 2), the log-domain nearest exponent of amax, so the group's largest
  value lands in the top binade (E = 15) with room to spare (sqrt 2 < 1.5): nothing saturates;
- "fit" (FP8): the smallest X with amax <= max * 2^X: X = e - emax + (m > max / 2^emax);
- "mx" (OCP MX): X = e - emax; elements above max * 2^X saturate;
- "absmax" (integers): no exponent (X = 0) but a float64 multiplier amax / qmax (INT8: 127).
A block format's X is clamped to its scale format's range (E8M0: [-127, 127]), whatever its rule.
X is capped at 1023 so that the multiplier 2^X is a finite float64 (only RF8's rule reaches past it, for
amax >= sqrt 2 * 2^1023). A group without a finite nonzero value (amax <= 0) gets X = 0, as does every
group when there is no scale (granularity None). `rf8lab.codec.reference.scale_of` is the same rule in
exact rationals (the oracle); the tests hold the two equal on every group maximum they meet.
"""
from __future__ import annotations

from fractions import Fraction

from ..formats import Format, largest_float_below
from ..policies import ScaleRule
from .xp import ops

MAX_SCALE_EXP = 1023  # X is at most this, so that 2^X is a finite float64 (values above max * 2^1023 overflow)

# m > sqrt 2 exactly, for a float64 m: sqrt 2 is irrational, so compare with the largest float below it
SQRT2_BELOW = largest_float_below(2 ** 0.5, lambda f: f * f < 2)


def mantissa_threshold(fmt: Format) -> float:
    """The m in [1, 2) above which amax = m * 2^e needs X one larger (exact in float64)."""
    if fmt.scale_rule == ScaleRule.LOG:
        return SQRT2_BELOW
    if fmt.scale_rule == ScaleRule.FIT:
        return float(fmt.max / Fraction(2) ** fmt.emax)
    return 2.0  # "mx" floors: m never moves X


def split(a):
    """Finite a > 0 (float64) -> (e int64, fraction bits int64, m float64 in [1, 2)) with a = m * 2^e,
    exactly, from the bit pattern (subnormals first scaled by 2^64, exactly). Bit operations rather
    than frexp, whose int32 exponent torch inductor's CPU code generator fails to convert."""
    xp = ops(a)
    sub = a < 2.0 ** -1022
    b = xp.where(sub, xp.where(sub, a, 0.0) * 2.0 ** 64, a).view(xp.int64)  # no overflow warning
    e = ((b >> 52) & 0x7FF) - 1023 - xp.astype(sub, xp.int64) * 64
    man = b & ((1 << 52) - 1)
    return e, man, (man | (1023 << 52)).view(xp.float64)


def group_scales(fmt: Format, amax, granularity):
    """Per group: (X int64, multiplier float64) from its largest finite magnitude (float64; <= 0 where
    the group has no finite nonzero value). Works on numpy arrays and torch tensors alike."""
    xp = ops(amax)
    none = amax <= 0
    if fmt.scale_rule == ScaleRule.ABSMAX:
        s = amax / float(fmt.max)  # 0 for amax below qmax/2 * 2^-1074: the smallest positive float64 instead
        return xp.astype(amax * 0, xp.int64), xp.where(none | (granularity is None), 1.0, xp.where(s > 0, s, 5e-324))
    e, _, m = split(xp.where(none, 1.0, amax))
    up = xp.astype(m > mantissa_threshold(fmt), xp.int64)
    if granularity is None:
        X = e * 0
    elif fmt.scale_rule == ScaleRule.LOG:
        X = e + up
    elif fmt.scale_rule == ScaleRule.FIT:
        X = e - fmt.emax + up
    else:  # "mx"
        X = e - fmt.emax
    if fmt.block_format is not None:  # within the block scale format's exponent range (E8M0: [-127, 127])
        sf = fmt.block_format.scale_format
        X = xp.clip(X, sf.emin, sf.emax)
    X = xp.where(none, 0, xp.where(X > MAX_SCALE_EXP, MAX_SCALE_EXP, X))
    return X, xp.exp2(X)
