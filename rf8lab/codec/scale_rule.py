"""The per-group scale rule, written once for numpy arrays and torch tensors.

A group's largest finite magnitude amax = m * 2^e (m in [1, 2)) sets its power-of-two scale 2^X;
each format names its rule (`Format.scale_rule`):
- "log" (RF8): X = e + (m > sqrt 2), the log-domain nearest exponent of amax, so the group's largest
  value lands in the top binade (E = 15) with room to spare (sqrt 2 < 1.5): nothing saturates;
- "fit" (FP8): the smallest X with amax <= max * 2^X: X = e - emax + (m > max / 2^emax);
- "mx" (OCP MX): X = e - emax; elements above max * 2^X saturate;
- "absmax" (integers): no exponent (X = 0) but a float64 multiplier amax / qmax (INT8: 127);
- "nv" (NVFP4): a float32 tensor scale s = amax / (6 * 448) and per block the E4M3 value nearest to
  amax_block / (6 s); the multiplier is their product (nv_scales; the block's E4M3 code is its scale_exp).
A block format's X is clamped to its scale format's range (E8M0: [-127, 127]), whatever its rule.
X is capped at 1023 so that the multiplier 2^X is a finite float64 (only RF8's rule reaches past it, for
amax >= sqrt 2 * 2^1023). A group without a finite nonzero value (amax <= 0) gets X = 0, as does every
group when there is no scale (granularity None). `rf8lab.codec.reference.scale_of` is the same rule in
exact rationals (the oracle); the tests hold the two equal on every group maximum they meet.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

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


def tensor_scale(fmt: Format, amax: float) -> float:
    """NVFP4's float32 tensor scale for a tensor whose largest finite magnitude is amax: amax / (6 * 448)
    (element max times block-scale max) computed in float64 and rounded to float32, within float32's
    positive range; 1 for a tensor without a finite nonzero value."""
    if not amax > 0:
        return 1.0
    top = float(fmt.max) * float(fmt.block_format.scale_format.codes.max)
    f32 = np.finfo(np.float32)
    return float(min(max(np.float32(amax / top), np.float32(f32.smallest_subnormal)), f32.max))


def nv_scales(fmt: Format, amax):
    """NVFP4 per block: (the E4M3 code of its scale, multiplier = that value times the tensor scale s).
    The block scale is amax_block / (6 s) rounded to the nearest E4M3 value (saturating), exactly, by the
    codec's own element rule; a block that would get a zero scale gets E4M3's smallest, and one without a
    finite nonzero value gets 1."""
    from . import vectorized  # the element rule: scale_rule is imported by vectorized, not the other way

    xp = ops(amax)
    sf = fmt.block_format.scale_format.codes
    s = tensor_scale(fmt, float(amax.max()) if amax.shape[0] else 0.0)
    pos = amax > 0
    a = xp.where(pos, amax, 0.0)
    codes = xp.astype(vectorized.element_codes(a, None, xp.full_like(a, float(fmt.max) * s), sf, "nearest",
                                               "sat-finite"), xp.int64)
    smallest, one = sf.code_for(False, 1), sf.code_for(False, sf.rank[1])
    codes = xp.where(pos, xp.where(codes == 0, smallest, codes), one)
    return codes, nv_multipliers(fmt, codes, s)


def nv_multipliers(fmt: Format, codes, s: float):
    """NVFP4's multiplier per block: the value of its E4M3 scale code times the tensor scale s (exact in
    float64: 4 and 24 significant bits)."""
    from . import vectorized

    return vectorized.grid(fmt.block_format.scale_format.codes, codes).values[codes] * s


def nv_tensor_scale(fmt: Format, codes, multiplier) -> float:
    """The tensor scale s back from an encoding's block codes and multipliers (each multiplier is
    value(code) * s exactly, and no code is 0)."""
    sf = fmt.block_format.scale_format.codes
    if codes.size == 0:
        return 1.0
    first = int(np.asarray(codes).reshape(-1)[0])
    return float(np.asarray(multiplier).reshape(-1)[0] / sf.values[first])


POWER_OF_TWO_RULES = (ScaleRule.LOG, ScaleRule.FIT, ScaleRule.MX)


@lru_cache(maxsize=None)
def exponent_steps(fmt: Format, dtype=np.float64) -> tuple[np.ndarray, np.ndarray, int]:
    """group_scales' X tabulated for kernels that read a group maximum's bits (float64 or float32): for a
    normal amax with biased exponent E and mantissa field f, X = base[E] + (f > cut[E]); x_none is the X of
    a group without a finite nonzero value. Every entry comes from group_scales itself (a binary search for
    the one mantissa per binade where X steps up: the rule is monotone, and within a binade it steps at
    most once, asserted), so the kernels apply the rule without a copy of it. Power-of-two rules only."""
    assert fmt.scale_rule in POWER_OF_TWO_RULES, f"{fmt.name}: rule {fmt.scale_rule} has a float multiplier"
    mbits, ebits, width = (52, 11, np.uint64) if np.dtype(dtype) == np.float64 else (23, 8, np.uint32)
    top_e, full = (1 << ebits) - 1, (1 << mbits) - 1
    E = np.arange(top_e + 1, dtype=np.int64)
    normal = (E >= 1) & (E < top_e)

    def X_at(f):  # X of the amax with exponent field E (a normal one: 1 stands in for 0 and the top) and field f
        bits = ((np.where(normal, E, 1) << mbits) | f).astype(width)
        return group_scales(fmt, bits.view(dtype).astype(np.float64), "tensor")[0]

    base, top = X_at(np.zeros(E.size, np.int64)), X_at(np.full(E.size, full, np.int64))
    assert ((top - base >= 0) & (top - base <= 1)).all(), f"{fmt.name}: X steps more than once in a binade"
    lo, hi = np.zeros(E.size, np.int64), np.full(E.size, full, np.int64)  # X(lo) = base, X(hi) = top
    while (hi - lo > 1).any():
        mid = lo + (hi - lo) // 2
        up = X_at(mid) == top
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    cut = np.where(top > base, lo, full)  # no step: no field exceeds `full`
    x_none = int(group_scales(fmt, np.array([-1.0]), "tensor")[0][0])
    return base.astype(np.int32), cut, x_none


def group_scales(fmt: Format, amax, granularity):
    """Per group: (X int64, multiplier float64) from its largest finite magnitude (float64; <= 0 where
    the group has no finite nonzero value). Works on numpy arrays and torch tensors alike."""
    xp = ops(amax)
    none = amax <= 0
    if fmt.scale_rule == ScaleRule.NV:
        return nv_scales(fmt, amax)
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
    return X, multipliers(X)


def multipliers(X):
    """The multiplier 2^X of power-of-two scale exponents (numpy arrays or torch tensors)."""
    return ops(X).exp2(X)
