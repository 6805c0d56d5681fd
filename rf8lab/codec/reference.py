"""The reference codec: slow, exact, meant to be read beside docs/rf8-format.md.

Every input element becomes an exact rational (`Fraction`), every decision is an exact
comparison of rationals, and nothing is ever rounded twice. The fast kernels are tested
against this module; it is reachable from the public API as `backend="reference"`.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from fractions import Fraction

import numpy as np

from ..formats import Format, floor_log2
from ..policies import STOCHASTIC_ROUNDINGS, Overflow, Rounding, ScaleRule
from .layout import Layout
from .scale_rule import MAX_SCALE_EXP, tensor_scale
from .xp import NumpyOps

TWO = Fraction(2)
OVERFLOW = -1  # rank returned when the rounded magnitude lies beyond the format's max


def inexact_in_float64(x: np.ndarray) -> bool:
    """Integers beyond 2^53 in magnitude are not exact in float64: only this codec takes them."""
    if x.dtype.kind in "iu" and x.size and x.dtype.itemsize == 8:
        lo, hi = int(x.min()), int(x.max())
        return max(abs(lo), abs(hi)) > 2 ** 53
    return False


# ---- element values -------------------------------------------------------------------
def exact_values(x: np.ndarray) -> list[tuple[bool, "Fraction | float"]]:
    """Each element as (negative, magnitude): an exact Fraction, or math.inf / math.nan (C order).
    `negative` keeps the sign of -0.0 and of NaN."""
    if x.dtype.kind in "iu":
        return [(v < 0, Fraction(abs(v))) for v in x.ravel().tolist()]
    # float16/32/64 and every ml_dtypes float convert to float64 exactly
    out = []
    with np.errstate(invalid="ignore"):  # ml_dtypes warns when casting NaN
        x64 = x.astype(np.float64)
    for v in x64.ravel().tolist():
        mag = abs(v)
        out.append((math.copysign(1.0, v) < 0, Fraction(mag) if math.isfinite(mag) else mag))
    return out


# ---- RF8 log-domain rounding (the paper's semantics) -------------------------------------
def lead(a: Fraction) -> int:
    """The log-domain nearest exponent: n with 2^(n-1/2) <= a < 2^(n+1/2).
    The threshold 2^(n+1/2) is irrational, so comparing a^2 with 2^(2n+1) decides exactly."""
    n = floor_log2(a)
    return n + 1 if a * a > TWO ** (2 * n + 1) else n


def round_log(a: Fraction) -> Fraction:
    """RF8 of a positive magnitude with unbounded exponents: 2^e1, plus +-2^e2 when the
    residual is nonzero and e1 - e2 <= 4."""
    e1 = lead(a)
    r = a - TWO ** e1
    if r == 0:
        return TWO ** e1
    e2 = lead(abs(r))
    if e1 - e2 > 4:
        return TWO ** e1
    return TWO ** e1 + (TWO ** e2 if r > 0 else -TWO ** e2)


# ---- rounding onto a format's grid --------------------------------------------------------
def _bracket(a: Fraction, grid: tuple) -> int:
    """Index i with grid[i] <= a < grid[i+1] (grid sorted, grid[0] = 0 <= a)."""
    return bisect_right(grid, a) - 1


def _between(a: Fraction, fmt: Format, up) -> int:
    """Rank of a on the grid extended by `next_up`: itself if it is a grid value, else the grid value
    below (i) or above (i + 1) as `up(i, lo, hi)` decides; OVERFLOW past max."""
    grid = fmt.extended
    i = _bracket(a, grid)
    if i >= len(fmt.magnitudes):
        return OVERFLOW
    if grid[i] == a:
        return i
    j = i + 1 if up(i, grid[i], grid[i + 1]) else i
    return OVERFLOW if j >= len(fmt.magnitudes) else j


def rank_nearest(a: Fraction, fmt: Format) -> int:
    """Nearest magnitude; an exact tie goes to the even rank. Values that round past max (the grid
    is extended by `next_up`) report OVERFLOW."""
    return _between(a, fmt, lambda i, lo, hi: 2 * a > lo + hi or (2 * a == lo + hi and i % 2 == 1))


def _round_half(q: Fraction, odd: bool) -> int:
    """q rounded to an integer, ties to even (or to odd)."""
    k = math.floor(q)
    if q - k != Fraction(1, 2):
        return k + (q - k > Fraction(1, 2))
    return k + ((k % 2 == 1) != odd)


def stochastic_up(rounding: str, f: Fraction, bits: int, sr_bits: int | None) -> bool:
    """Whether stochastic rounding goes up in magnitude, at fraction f in (0, 1) of the way from the
    neighbour below to the one above, with random integer `bits` (rf8lab.policies.Rounding)."""
    if sr_bits is None:  # exact probability: bits / 2^32 < f
        return bits < f * 2 ** 32
    q, top = f * 2 ** sr_bits, 2 ** sr_bits
    if rounding == Rounding.STOCHASTIC:
        return q + bits >= top
    if rounding == Rounding.STOCHASTIC_FAST:
        return q + bits + Fraction(1, 2) >= top
    return _round_half(q, rounding == Rounding.STOCHASTIC_ODD) + bits >= top


def rank_on_grid(a: Fraction, fmt: Format, rounding: str, negative: bool, bits: int = 0,
                 sr_bits: int | None = None) -> int:
    """Rank of magnitude a >= 0 under any rounding onto the value set (all but RF8's log rule), or
    OVERFLOW when the result lies beyond max. Directed roundings act on the signed value: toward-positive
    is up in magnitude for positive input, down for negative."""
    if rounding == Rounding.NEAREST:
        return rank_nearest(a, fmt)
    if rounding == Rounding.NEAREST_AWAY:
        return _between(a, fmt, lambda i, lo, hi: 2 * a >= lo + hi)
    if rounding == Rounding.TOWARD_ZERO:
        return _between(a, fmt, lambda i, lo, hi: False)
    if rounding in (Rounding.TOWARD_POSITIVE, Rounding.TOWARD_NEGATIVE):
        away = (rounding == Rounding.TOWARD_POSITIVE) != negative
        return _between(a, fmt, lambda i, lo, hi: away)
    if rounding == Rounding.TO_ODD:
        return _between(a, fmt, lambda i, lo, hi: i % 2 == 0)
    if rounding in STOCHASTIC_ROUNDINGS:
        return _between(a, fmt, lambda i, lo, hi: stochastic_up(rounding, (a - lo) / (hi - lo), bits, sr_bits))
    raise ValueError(f"unknown rounding {rounding!r}; choose one of {', '.join(Rounding)}")


def rank_log(a: Fraction, fmt: Format) -> int:
    """RF8 log rounding, then the window: below min flushes to zero, above max overflows."""
    if a == 0:
        return 0
    v = round_log(a)
    if v < fmt.min_positive:
        return 0
    if v > fmt.max:
        return OVERFLOW
    return fmt.rank[v]  # every in-window log result is on the grid


def toward_range(rounding: str, negative: bool) -> bool:
    """A directed rounding that rounds this sign toward the finite range: a finite value beyond max
    becomes +-max under every overflow mode (IEEE 754 7.4, P3109, gfloat)."""
    return rounding == Rounding.TOWARD_ZERO or rounding == (Rounding.TOWARD_POSITIVE if negative
                                                            else Rounding.TOWARD_NEGATIVE)


# ---- scales ---------------------------------------------------------------------------------
def scale_of(fmt: Format, amax: Fraction, granularity) -> tuple[int, Fraction]:
    """(scale exponent X, exact multiplier) for a group with finite absmax `amax`.
    int8's multiplier is not a power of two; its X is reported as 0."""
    if granularity is None:
        return 0, Fraction(1)
    if fmt.scale_rule == ScaleRule.ABSMAX:  # float64 amax / qmax, at least the smallest positive float64
        return 0, Fraction(max(float(amax) / float(fmt.max), 5e-324)) if amax > 0 else Fraction(1)
    if amax == 0:
        return 0, Fraction(1)
    if fmt.scale_rule == ScaleRule.LOG:  # largest value lands at E = 15; 1.414 < 1.5 so nothing saturates
        x = lead(amax)
    elif fmt.scale_rule == ScaleRule.FIT:  # smallest X with amax <= max * 2^X
        ratio = amax / fmt.max
        x = floor_log2(ratio)
        x += ratio != TWO ** x
    elif fmt.scale_rule == ScaleRule.MX:  # OCP MX: floor(log2 amax) - emax
        x = floor_log2(amax) - fmt.emax
    else:
        raise AssertionError(fmt.scale_rule)
    if fmt.block_format is not None:  # within the block scale format's range (E8M0: [-127, 127])
        sf = fmt.block_format.scale_format
        x = min(sf.emax, max(sf.emin, x))
    x = min(x, MAX_SCALE_EXP)  # 2^X stays a finite float64 (only RF8's rule reaches past it, at amax >= 2^1023.5)
    return x, TWO ** x


def nv_scale_of(fmt: Format, amax: Fraction, s: Fraction) -> tuple[int, Fraction]:
    """NVFP4: (E4M3 code, exact multiplier) of a block with absmax `amax` under tensor scale s: the
    nearest E4M3 value to amax / (6 s), saturating, at least E4M3's smallest; 1 for an empty block."""
    sf = fmt.block_format.scale_format.codes
    if amax == 0:
        r = sf.rank[Fraction(1)]
    else:
        r = rank_nearest(amax / (fmt.max * s), sf)
        r = len(sf.magnitudes) - 1 if r == OVERFLOW else max(r, 1)
    return sf.code_for(False, r), sf.magnitudes[r] * s


def draw_bits(seed: int, index: int, nbits: int) -> int:
    """Stochastic rounding's random draw of element `index` on Python integers, the oracle of
    vectorized.draw_bits: the top `nbits` bits of SplitMix64's output index + 1 of `seed`."""
    mask = (1 << 64) - 1
    z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) >> (64 - nbits)


# ---- encode / decode --------------------------------------------------------------------------
def encode_element(negative: bool, mag, fmt: Format, scale: Fraction, rounding: str, overflow: str,
                   bits: int = 0, sr_bits: int | None = None) -> int:
    """Code of one exact input value (sign, magnitude) under a group multiplier `scale` (> 0)."""
    overflow = Overflow(overflow)  # rf8lab 0.1's names too
    if isinstance(mag, float) and math.isnan(mag):
        return fmt.nan_code(negative)
    if negative and not fmt.signed and mag != 0:  # out of an unsigned range: 0 when saturating, else NaN
        return fmt.code_for(False, 0) if overflow == Overflow.SAT_FINITE else fmt.nan_code(False)
    if isinstance(mag, float):  # inf
        if overflow == Overflow.SAT_FINITE:
            return fmt.code_for(negative, len(fmt.magnitudes) - 1)
        return fmt.nan_code(negative) if overflow == Overflow.NAN else fmt.inf_code(negative)
    a = mag / scale
    if rounding == Rounding.LOG:
        rank = rank_log(a, fmt)
    else:
        rank = rank_on_grid(a, fmt, rounding, negative, bits, sr_bits)
    if rank == OVERFLOW:
        if overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE) or toward_range(rounding, negative):
            rank = len(fmt.magnitudes) - 1
        elif overflow == Overflow.OVF_INF:
            return fmt.inf_code(negative)
        else:
            return fmt.nan_code(negative)
    return fmt.code_for(negative, rank)


def encode(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str,
           random_bits: np.ndarray | None = None, sr_bits: int | None = None):
    """Codes (uint8, x's shape), scale exponents (int32, layout.scale_shape) and exact multipliers."""
    vals = exact_values(x)
    gid = layout.group_ids().ravel().tolist()
    ngroups = int(np.prod(layout.scale_shape, dtype=np.int64))
    amax = [Fraction(0)] * ngroups
    for g, (_, m) in zip(gid, vals):
        if not isinstance(m, float) and m > amax[g]:
            amax[g] = m
    if fmt.scale_rule == ScaleRule.NV:
        s = Fraction(tensor_scale(fmt, float(max(amax, default=0))))
        scales = [nv_scale_of(fmt, m, s) for m in amax]
    else:
        scales = [scale_of(fmt, m, layout.granularity) for m in amax]
    bits = random_bits.ravel().tolist() if random_bits is not None else [0] * len(vals)
    codes = [encode_element(neg, m, fmt, scales[g][1], rounding, overflow, b, sr_bits)
             for g, (neg, m), b in zip(gid, vals, bits)]
    scale_exp = np.array([s[0] for s in scales], np.int32).reshape(layout.scale_shape)
    mult = np.array([float(s[1]) for s in scales], np.float64).reshape(layout.scale_shape)
    return np.array(codes, np.uint8).reshape(x.shape), scale_exp, mult


def decode(codes: np.ndarray, fmt: Format, layout: Layout, scale_exp: np.ndarray, scale: np.ndarray,
           dtype) -> np.ndarray:
    """Exact value of each code times its group's multiplier, rounded once to `dtype`.
    Power-of-two scales multiply exactly; int8's float scale multiplies in float64."""
    gid = layout.group_ids().ravel().tolist()
    xs, ms = scale_exp.ravel().tolist(), scale.ravel().tolist()
    out = []
    for c, g in zip(codes.ravel().tolist(), gid):
        s, m = fmt.decoded[c]
        if m is None:
            out.append(math.nan)
        elif m == math.inf:
            out.append(s * math.inf)
        elif fmt.float_scale:
            out.append(s * float(m) * ms[g])
        else:
            out.append(math.copysign(_to_float(m * TWO ** xs[g]), s))
    return _round_once(out, dtype).reshape(codes.shape)


def _to_float(v: Fraction) -> float:
    """Fraction -> float64, correctly rounded; saturates to inf like a cast would."""
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _round_once(vals: list, dtype) -> np.ndarray:
    # Grid values carry at most 5 significant bits, so they are exact in float64 except far
    # outside its range, and the cast to the output dtype is the only rounding (int8's values are
    # float64 products: one rounding there, one in the cast, never a third through float32).
    return NumpyOps.narrow(np.array(vals, np.float64), dtype)
