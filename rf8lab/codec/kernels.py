"""Numba kernels: the same decisions as reference.py, fast.

How each decision stays exact:
- Every input is read as a sign, an exponent e and a mantissa (float64 bits, or float32 bits; the
  16- and 8-bit types go through a table of their float32 bit patterns), and the group's scale X
  only shifts the exponent, so a = |x| / 2^X is never rounded.
- The roundings onto the value set (nearest, nearest-away, toward zero/+inf/-inf, to odd) and the
  floor: every threshold of every format (its magnitudes and their midpoints) has at most 7 fraction
  bits within its binade (Format.threshold_bits), so (binade, top 8 mantissa bits, sticky bit of the
  rest) decides the answer. The tables indexed by that key, one per rounding and sign, are filled by
  the reference codec itself (`tables`), and the 7-bit property is asserted when they are built.
- Log (RF8): within a binade [2^e, 2^(e+1)) the paper's rule is a step function of the mantissa
  m with 7 irrational breakpoints (1 + 2^-4.5, ..., 2(1 - 2^-4.5)); m >= b iff m > the largest
  float64 below b, which is computed exactly once with integer square roots.
- Stochastic: lo from the floor table, then one comparison of a 2^K with lo 2^K + c (hi - lo), where
  c is made of the random bits: both sides exact in float64 (few-bit grid values), as in vectorized.
- Float multipliers (integers, NVFP4): the float64 quotient |x| / s guesses the neighbours, and exact
  residuals (Dekker's product) decide every comparison.
- Random bits of stochastic rounding are drawn inside the kernels from (seed, element index)
  (vectorized.draw_bits), so no thread count or chunking changes them.

The array kernels answer each element from tables that _float_code fills, choosing what measured fastest
on a 2-core AVX-512 machine (LLVM vectorizes a gather of 32-bit table entries, so the tables the hot loops
read hold int32, and loops keep to what vectorizes: see docs/architecture.md), with one exception:
- IEEE-like minifloats (E4M3, E5M2, the MX elements, ...), float32 input, one scale exponent per tensor or
  per group: rounding to nearest even is integer arithmetic on the pattern and one float rint below the least
  normal binade (`encode_minifloat`), stochastic rounding the truncated index and the integer comparison of
  `_stochastic_spacing_up` (`_minifloat_stochastic`, inside `stochastic_scaled`); no table, so they vectorize
  on AVX2 too;
- one scale exponent per tensor and a deterministic rounding: a 65,536-entry table per exponent indexed by
  the top 16 bits of the float32 pattern (`key16_table`; `lookup`, `lookup_refined`); float64 input at the
  round-to-odd keys its values would have as float32 (`_keys64`);
- a scale exponent per channel or block and a deterministic rounding: the same table at scale 0, read at
  keys shifted by the group's exponent (`lookup_scaled`; `encode_contiguous` finds each contiguous group's
  maximum and exponent and encodes it in one pass);
- stochastic rounding of float32 input: a scale-0 table at shifted keys holding both codes and the bit of the
  significand at the grid step, then one integer comparison (`stochastic_scaled`, `_stochastic_spacing_up`);
  the floor rank and a float comparison where the step is not a power of two;
- everything else (stochastic rounding of narrower types; float64 input per channel or block, or log-rounded):
  per-binade code tables (`codes`), read by `_table_code` from (sign, binade, 8 mantissa bits, sticky) in a
  few integer operations.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numba as nb
import numpy as np
from numba.extending import overload

from ..formats import floor_log2, get_format, largest_float_below
from . import reference, table_cache, vectorized

KEYBITS = 8  # mantissa bits in the table key, plus one sticky bit
KEYSHIFT = KEYBITS + 1  # bits of the key below the binade
# Rounding codes. The deterministic roundings onto the value set (0, 3..7) read one table per sign;
# the stochastic ones (2, 8..10) a floor table and one exact comparison; log (1) its breakpoints.
ROUND = {"nearest": 0, "log": 1, "stochastic": 2, "nearest-away": 3, "toward-zero": 4, "toward-positive": 5,
         "toward-negative": 6, "to-odd": 7, "stochastic-fast": 8, "stochastic-even": 9, "stochastic-odd": 10}
OVER = {"sat-finite": 0, "nan": 1, "ovf-inf": 2, "sat-propagate": 3}
DETERMINISTIC = ("nearest", "nearest-away", "toward-zero", "toward-positive", "toward-negative", "to-odd")


# ---- tables built from the reference ------------------------------------------------------
@lru_cache(maxsize=None)
def log_breakpoints() -> tuple[np.ndarray, np.ndarray]:
    """(L, levels): for m in [1, 2), the log result is levels[#{i: m > L[i]}] * 2^e, where L[i] is
    the largest float64 below the irrational breakpoint b_i (so m >= b_i iff m > L[i])."""
    L = []
    for k in (4, 3, 2, 1):  # b = 1 + 2^(-k-1/2):  f < b  iff  f <= 1 or (f - 1)^2 < 2^(-2k-1)
        t = Fraction(1, 2 ** (2 * k + 1))
        L.append(largest_float_below(1 + 2 ** (-k - 0.5), lambda f, t=t: f <= 1 or (f - 1) ** 2 < t))
    for k in (2, 3, 4):  # b = 2 - 2^(1/2-k):  f < b  iff  (2 - f)^2 > 2^(1-2k)
        t = Fraction(2, 2 ** (2 * k))
        L.append(largest_float_below(2 - 2 ** (0.5 - k), lambda f, t=t: f < 2 and (2 - f) ** 2 > t))
    levels = np.array([1, 1.0625, 1.125, 1.25, 1.5, 1.75, 1.875, 2.0], np.float64)
    return np.array(L, np.float64), levels


class Tables(NamedTuple):
    """Everything the element kernels read for one format and rounding (one argument, not twenty), filled
    by the reference. Keys are (binade - emin) << KEYSHIFT | 8 mantissa bits << 1 | sticky."""
    near: np.ndarray    # int16 key -> rank under the table rounding, positive input (n: overflow)
    near_neg: np.ndarray  # the same for negative input (directed roundings differ by sign)
    flo: np.ndarray     # int16 key -> rank of the largest grid magnitude at or below
    ext: np.ndarray     # float64 grid magnitudes, then next_up (the overflow step)
    pos: np.ndarray     # uint8 code of each rank, positive
    neg: np.ndarray     # uint8 code of each rank, negative
    L: np.ndarray       # float64 log-rounding breakpoints (log_breakpoints)
    levels: np.ndarray  # float64 log-rounding levels
    emin: int           # binade of min_positive / 2: everything below rounds like a tiny value
    emax: int           # binade of next_up: everything above overflows
    n: int              # number of magnitudes
    nan_pos: int        # NaN codes (positive, negative input)
    nan_neg: int
    inf_pos: int        # inf codes (0 without inf)
    inf_neg: int
    key_min: int        # key of min_positive
    key_max: int        # key of max
    below_pos: int      # rank of a value in (0, 2^emin) under the table rounding, positive and negative input
    below_neg: int
    clamp_pos: bool     # a finite overflow becomes max whatever the mode (directed toward the range)
    clamp_neg: bool
    unsigned: bool      # negative input is out of range


def _rank(a: Fraction, fmt, rounding: str, negative: bool) -> int:
    r = reference.rank_on_grid(a, fmt, rounding, negative)
    return len(fmt.magnitudes) if r == reference.OVERFLOW else r


@lru_cache(maxsize=None)
def tables(name: str, rounding: str = "nearest") -> Tables:
    """The kernels' tables for a format and rounding, filled by the reference (the non-deterministic
    roundings read the nearest table for log's in-window keys and the floor table)."""
    fmt = get_format(name)
    det = rounding if rounding in DETERMINISTIC else "nearest"
    signed_rule = det in ("toward-positive", "toward-negative")
    grid = fmt.extended
    emin = floor_log2(fmt.min_positive) - 1  # binade of min/2; everything below rounds like a tiny value
    emax = floor_log2(fmt.next_up)           # binade of next_up; everything above overflows
    assert fmt.threshold_bits <= KEYBITS - 1, f"{name}: a threshold needs more than {KEYBITS - 1} fraction bits"
    nb_ = emax - emin + 1

    def build():  # the Fraction loop takes about 0.4 s: its result is kept on disk (table_cache)
        near = np.empty(nb_ << KEYSHIFT, np.int16)
        near_neg = np.empty_like(near)
        flo = np.empty_like(near)
        for b in range(nb_):
            base = Fraction(2) ** (emin + b)
            for m in range(1 << KEYBITS):
                for sticky in (0, 1):
                    k = (b << KEYSHIFT) | (m << 1) | sticky
                    a = base * (1 + Fraction(2 * m + sticky, 1 << KEYSHIFT))
                    near[k] = _rank(a, fmt, det, False)
                    near_neg[k] = _rank(a, fmt, det, True) if signed_rule else near[k]
                    flo[k] = reference._bracket(a, grid)
        return {"near": near, "near_neg": near_neg, "flo": flo}

    described = repr((fmt.name, det, signed_rule, KEYBITS, [str(g) for g in grid], fmt.rank_codes))
    keyed = table_cache.cached_arrays("tables", described, ("near", "near_neg", "flo"), build)
    near, near_neg, flo = keyed["near"], keyed["near_neg"], keyed["flo"]
    n = len(fmt.magnitudes)
    ext = np.array([float(g) for g in grid], np.float64)
    pos, neg = (np.array(c, np.uint8) for c in fmt.rank_codes)
    nan_p, nan_n, inf_p, inf_n = fmt.special_codes

    def key(g):  # table key of a grid magnitude (sticky 0); keys order like the magnitudes
        e = floor_log2(g)
        return ((e - emin) << KEYSHIFT) | (int((g / Fraction(2) ** e - 1) * (1 << KEYBITS)) << 1)

    tiny = Fraction(2) ** (emin - 1)
    L, levels = log_breakpoints()
    return Tables(near, near_neg, flo, ext, pos, neg, L, levels, emin, emax, n, nan_p, nan_n, inf_p, inf_n,
                  key(fmt.min_positive), key(fmt.max), _rank(tiny, fmt, det, False), _rank(tiny, fmt, det, True),
                  reference.toward_range(rounding, False), reference.toward_range(rounding, True), not fmt.signed)


@lru_cache(maxsize=None)
def bits_lut(dtype: np.dtype) -> np.ndarray:
    """float32 bit pattern of every value of a 16- or 8-bit float type."""
    width = np.uint16 if dtype.itemsize == 2 else np.uint8
    with np.errstate(invalid="ignore", over="ignore"):
        vals = np.arange(1 << (8 * dtype.itemsize), dtype=np.uint32).astype(width).view(dtype).astype(np.float32)
    return vals.view(np.uint32)


# ---- element kernels ------------------------------------------------------------------------
_JIT = dict(nogil=True, cache=True, fastmath=False, error_model="numpy")


def _bitwidth(a):
    """Bits per element of array a, as a compile-time constant in the kernels (an array's itemsize is read at
    run time, and a branch on it kept the float64 code in every loop, twice as slow)."""
    return 8 * a.itemsize


@overload(_bitwidth, jit_options=dict(cache=True))
def _bitwidth_compile_time(a):
    bits = a.dtype.bitwidth
    return lambda a: bits


@nb.njit(inline="always", **_JIT)
def _split(b, mbits):
    """float32 (mbits 23) or float64 (mbits 52) bits -> (negative, kind, e, mantissa) with kind
    0 zero, 1 finite, 2 inf, 3 nan; subnormals are normalized."""
    b = np.uint64(b)
    ebits = 8 if mbits == 23 else 11
    emask = (1 << ebits) - 1
    bias = emask >> 1
    neg = (b >> np.uint64(ebits + mbits)) != 0
    ex = np.int64(b >> np.uint64(mbits)) & emask
    man = np.int64(b & np.uint64((1 << mbits) - 1))
    if ex == emask:
        return neg, (3 if man != 0 else 2), 0, 0
    if ex == 0:
        if man == 0:
            return neg, 0, 0, 0
        e = 1 - bias
        while man < (1 << mbits):
            man <<= 1
            e -= 1
        return neg, 1, e, man & ((1 << mbits) - 1)
    return neg, 1, ex - bias, man


@nb.njit(inline="always", **_JIT)
def _over(neg, r, over, T):
    """Code of rank r, where r = n (beyond max) becomes max, inf or NaN as the overflow mode says."""
    if r >= T.n:
        if over == 0 or over == 3 or (T.clamp_neg if neg else T.clamp_pos):
            r = T.n - 1
        elif over == 2:
            return T.inf_neg if neg else T.inf_pos
        else:
            return T.nan_neg if neg else T.nan_pos
    return T.neg[r] if neg else T.pos[r]


@nb.njit(inline="always", **_JIT)
def _special(neg, kind, over, T):
    """Code of a NaN (kind 3), an infinity (kind 2), a zero (kind 0), or any nonzero negative input to an
    unsigned format (out of range: 0 when saturating, else NaN); -1 for every other input."""
    if kind == 0:
        return T.neg[0] if neg else T.pos[0]
    if kind == 3:
        return T.nan_neg if neg else T.nan_pos
    if T.unsigned and neg and kind != 0:
        return T.pos[0] if over == 0 else T.nan_pos
    if kind == 2:
        if over == 0:
            return T.neg[T.n - 1] if neg else T.pos[T.n - 1]
        if over == 1:
            return T.nan_neg if neg else T.nan_pos
        return T.inf_neg if neg else T.inf_pos
    return -1


@nb.njit(inline="always", **_JIT)
def _sign_at(a, k, lo, c, s):
    """Sign of a 2^k - (lo 2^k + c) s, exactly; the side that cannot overflow is scaled."""
    p = float(np.int64(1) << k)  # k <= 33: exact, and vectorizes where ldexp does not
    lo_k = lo * p + c
    if s == 1.0:  # no multiplier (a power-of-two scale): both sides are exact, a subtraction decides
        d = a * p - lo_k
        t = np.int64(d > 0) - np.int64(d < 0)
    elif a < 2.0 ** 900:
        t = np.int64(_sign_diff(a * p, lo_k, s))
    else:
        t = np.int64(_sign_diff(a, lo_k, s / p))
    return t  # one exit (inlined: see _stochastic_decide)


EXACT_RULE = (np.int64(32), 0.0, 1.0, 0)  # _stochastic_rule without sr_bits: up iff (a - lo) / (hi - lo) 2^32 > R


@nb.njit(inline="always", **_JIT)
def _stochastic_rule(rnd, nsr):
    """(k, c0, c1, ties) of vectorized._stochastic_up's rule for rounding rnd with nsr random bits (nsr < 0:
    the exact-probability rule): up from lo for a / s in [lo, hi) where t = sign(a 2^k - (lo 2^k + (c0 + c1 R)
    (hi - lo)) s) > 0, and where t = 0 as the rule breaks ties: bit (R & 1) of `ties` (0: down, 3: up, 2: up
    iff R is odd, 1: up iff R is even; 2^N - R is odd iff R is, N >= 1). At a = lo, t < 0 or (R = 0 under the
    exact rule) t = 0 and down. Constant for a call: the hot loops compute it once."""
    if nsr < 0:
        k, c0, c1, ties = EXACT_RULE
    else:
        n = float(np.int64(1) << nsr)
        if rnd == 2:
            k, c0, c1, ties = np.int64(nsr), n, -1.0, 3
        else:
            k, c0, c1, ties = np.int64(nsr + 1), 2.0 * n - 1.0, -2.0, 3 if rnd == 8 else (2 if rnd == 10 else 1)
    return k, c0, c1, ties


@nb.njit(inline="always", **_JIT)
def _stochastic_decide(a, lo, hi, s, rbits, k, c0, c1, ties):
    """Whether the rule (k, c0, c1, ties) of _stochastic_rule goes up from lo, with the random bits rbits. One
    exit (an inlined function with several returns compiles several times slower), and bit operations: t is
    random, a branch on it mispredicts, and the tie as a bit of `ties` measured a third faster than selects."""
    t = _sign_at(a, k, lo, (c0 + c1 * float(rbits)) * (hi - lo), s)
    tie_up = ((ties >> (np.int64(rbits) & 1)) & 1) == 1
    return (t > 0) | ((t == 0) & tie_up)


@nb.njit(inline="always", **_JIT)
def _stochastic_up(rnd, a, lo, hi, s, rbits, nsr):
    """vectorized._stochastic_up for one element (_stochastic_rule, then _stochastic_decide)."""
    k, c0, c1, ties = _stochastic_rule(rnd, nsr)
    return _stochastic_decide(a, lo, hi, s, rbits, k, c0, c1, ties)


@nb.njit(**_JIT)  # a call, not inlined: it is off the hot loops, and one copy compiles once
def _float_code(neg, kind, e, man, mbits, X, rnd, over, rbits, nsr, T):
    """Code of one float input (sign, kind, exponent, mantissa with `mbits` bits) at scale X."""
    c = _special(neg, kind, over, T)
    if c >= 0:
        return c
    n = T.n
    emin, emax = T.emin, T.emax
    er = e - X  # binade of a = |x| / 2^X
    sh = mbits - KEYBITS
    mk = man >> sh
    sticky = 1 if (man & ((1 << sh) - 1)) != 0 else 0
    if rnd == 1:  # log (RF8)
        m = 1.0 + man / float(1 << mbits)
        c = 0
        for i in range(7):
            if m > T.L[i]:
                c += 1
        # the result levels[c] * 2^er as a table key; compare keys with those of min and max
        ev = er + (1 if c == 7 else 0)
        mv = 0 if c == 7 else np.int64(T.levels[c] * (1 << KEYBITS)) - (1 << KEYBITS)
        if ev < emin:
            r = 0
        elif ev > emax:
            r = n
        else:
            kv = ((ev - emin) << KEYSHIFT) | (mv << 1)
            r = 0 if kv < T.key_min else (n if kv > T.key_max else T.near[kv])
    elif rnd == 2 or rnd >= 8:  # stochastic
        if er > emax:
            r = n
        else:
            if er < emin:
                r = 0
            else:
                r = T.flo[((er - emin) << KEYSHIFT) | (mk << 1) | sticky]
            if r < n:
                lo, hi = T.ext[r], T.ext[r + 1]
                if er < -1000:  # |a| underflows float64 but is > 0 = lo: only the exact rule, at bits 0
                    if nsr < 0 and rbits == 0:
                        r += 1
                else:
                    a = math.ldexp(1.0 + man / float(1 << mbits), er)
                    if a != lo and _stochastic_up(rnd, a, lo, hi, 1.0, rbits, nsr):
                        r += 1
    else:  # a rounding the tables decide
        if er < emin:
            r = T.below_neg if neg else T.below_pos
        elif er > emax:
            r = n
        else:
            k = ((er - emin) << KEYSHIFT) | (mk << 1) | sticky
            r = T.near_neg[k] if neg else T.near[k]
    return _over(neg, r, over, T)


# One Dekker product for all execution models. Numba's on-disk cache is keyed on this file only: after
# editing vectorized.two_prod, touch this file (or clear rf8lab/codec/__pycache__) so the kernels recompile.
_two_prod = nb.njit(inline="always", **_JIT)(vectorized.two_prod)


@nb.njit(inline="always", **_JIT)
def _sign_diff(x, k, s):
    """Sign of x - k*s, exactly (x, s > 0 floats, k a small integer)."""
    p, err = _two_prod(k, s)
    d = x - p
    if d > 0 and d > abs(err) * 4:
        return 1
    if d < 0 and -d > abs(err) * 4:
        return -1
    t = d - err  # d exact here (Sterbenz: x and p are close); one rounding keeps the sign
    return 1 if t > 0 else (-1 if t < 0 else 0)


@nb.njit(**_JIT)  # a call, not inlined: one copy for every input type of encode_mult
def _mult_code(neg, kind, v, s, rnd, over, rbits, nsr, T):
    """Code of |x| = v (finite or not, kind as _split) divided by a float multiplier s, rounded onto the
    grid: the float quotient guesses the neighbours, exact residuals (Dekker's product) decide."""
    c = _special(neg, kind, over, T)
    if c >= 0:
        return c
    n = T.n
    a = v
    # Dekker's products must stay exact: scale a and s alike (a / s unchanged) where s is huge (134217729 s
    # and 2a finite) or tiny (no product underflows)
    if s > 2.0 ** 900:
        a *= 2.0 ** -128
        s *= 2.0 ** -128
    elif s < 2.0 ** -900:
        a *= 2.0 ** 128
        s *= 2.0 ** 128
    if a == 0.0:  # underflowed: far below every grid value times s; up only where a rounding goes up at all
        up = (rnd == 5 and not neg) or (rnd == 6 and neg) or rnd == 7 or (rnd == 2 and nsr < 0 and rbits == 0)
        return _over(neg, 1 if up else 0, over, T)
    q = a / s
    if q >= 2.0 * T.ext[n]:
        return _over(neg, n, over, T)
    i = min(max(np.searchsorted(T.ext, q, side="right") - 1, 0), n)
    if i > 0 and _sign_diff(a, T.ext[i], s) < 0:
        i -= 1
    elif i < n and _sign_diff(a, T.ext[i + 1], s) >= 0:
        i += 1
    if i >= n:
        return _over(neg, n, over, T)
    lo, hi = T.ext[i], T.ext[i + 1]
    if _sign_diff(a, lo, s) == 0:
        return _over(neg, i, over, T)
    if rnd == 0 or rnd == 3:
        t = _sign_diff(2.0 * a, lo + hi, s)
        up = t > 0 or (t == 0 and (rnd == 3 or i % 2 == 1))
    elif rnd == 4:
        up = False
    elif rnd == 5:
        up = not neg
    elif rnd == 6:
        up = neg
    elif rnd == 7:
        up = i % 2 == 0
    else:
        up = _stochastic_up(rnd, a, lo, hi, s, rbits, nsr)
    return _over(neg, i + (1 if up else 0), over, T)


# ---- code tables: what _float_code answers for every cell of a normal input -----------------------
# A normal input is (sign, binade er = e - X, key = 8 top mantissa bits and a sticky bit). Rows stand for
# binades: row 0 every er <= emin - 2, row 1 er = emin - 1, then er = emin .. emax, and a last row every
# er > emax. Within a cell, the table roundings depend on nothing else, log only on how many breakpoints
# lie below the mantissa, and stochastic's floor rank again only on the key. Each table entry is
# _float_code's own answer for one input of its cell, so the array kernels equal _float_code wherever they
# read a table; zeros, subnormal and non-finite inputs are rounded by _float_code itself.

class Codes(NamedTuple):
    """The array kernels' tables for one format, rounding and overflow mode."""
    table: np.ndarray      # int16 [((neg * rows + row) << KEYSHIFT) | key]: code under a table rounding
    log: np.ndarray        # int16 [(neg * rows + row) * 8 + count]: code under log rounding
    cut23: np.ndarray      # int64 [7]: 1 + m / 2^23 > L[i] iff the 23-bit mantissa m > cut23[i]
    cut52: np.ndarray      # the same for 52-bit mantissas
    floor: np.ndarray      # int16 [(row << KEYSHIFT) | key]: rank at or below (stochastic)
    ext: np.ndarray        # float64 magnitudes, next_up, next_up (rank + 1 always indexes)
    rank_code: np.ndarray  # int16 [neg * (n + 1) + rank]: code of a rank; rank n is the overflow
    zero_pos: int          # codes of +0 and -0
    zero_neg: int
    row_base: int          # row = clamp(er - row_base, 0, rows - 1)
    rows: int
    n: int


@nb.njit(**_JIT)
def _fill_codes(rnd, over, T, rows, cut52, table, log, floor, rank_code):
    deterministic = rnd == 0 or 3 <= rnd <= 7
    for s in range(2):
        neg = s == 1
        for row in range(rows):
            er = T.emin - 2 + row
            base = s * rows + row
            if deterministic:
                for key in range(1 << KEYSHIFT):
                    man = ((np.int64(key) >> 1) << (52 - KEYBITS)) | (key & 1)
                    table[(base << KEYSHIFT) | key] = _float_code(neg, 1, er, man, 52, 0, rnd, over,
                                                                  np.uint64(0), -1, T)
            if rnd == 1:
                for c in range(8):
                    man = 0 if c == 0 else cut52[c - 1] + 1  # the smallest mantissa above c breakpoints
                    log[base * 8 + c] = _float_code(neg, 1, er, man, 52, 0, 1, over, np.uint64(0), -1, T)
        for r in range(T.n + 1):  # negative input to an unsigned format is out of range at every rank
            rank_code[s * (T.n + 1) + r] = _special(neg, 1, over, T) if T.unsigned and neg else _over(neg, r, over, T)
    for row in range(rows):
        for key in range(1 << KEYSHIFT):
            if row < 2:
                f = 0
            elif row == rows - 1:
                f = T.n
            else:
                f = T.flo[((row - 2) << KEYSHIFT) | key]
            floor[(row << KEYSHIFT) | key] = f


@lru_cache(maxsize=None)
def codes(name: str, rounding: str, overflow: str) -> Codes:
    T = tables(name, rounding)
    rnd, over = ROUND[rounding], OVER[overflow]
    rows = T.emax - T.emin + 4
    L, _ = log_breakpoints()
    cut52 = np.array([int((Fraction(v) - 1) * 2 ** 52) for v in L], np.int64)  # L = 1 + k 2^-52 exactly
    cut23 = cut52 >> 29  # m23 2^29 > k iff m23 > k >> 29
    table = np.zeros((2 * rows) << KEYSHIFT, np.int16)
    log = np.zeros(2 * rows * 8, np.int16)
    floor = np.zeros(rows << KEYSHIFT, np.int16)
    rank_code = np.zeros(2 * (T.n + 1), np.int16)
    _fill_codes(rnd, over, T, rows, cut52, table, log, floor, rank_code)
    ext = np.append(T.ext, T.ext[-1])
    zp, zn = (int(_special(neg, 0, over, T)) for neg in (False, True))
    return Codes(table, log, cut23, cut52, floor, ext, rank_code, zp, zn, T.emin - 2, rows, T.n)


# One random generator for all execution models (vectorized.draw_bits); like _two_prod, edit it there,
# then touch this file.
_draw_bits = nb.njit(inline="always", **_JIT)(vectorized.draw_bits)


# ---- element kernel on the tables -------------------------------------------------------------
@nb.njit(inline="always", **_JIT)
def _exceptional(E, man, emask, er, X, cls):
    """Whether _table_code leaves an element to _float_code: subnormal, infinite or NaN input, and for
    stochastic rounding binades beyond float64's normal range."""
    exc = (E == emask) | ((E == 0) & (man != 0))
    if cls >= 2:
        exc = exc | (er < -1000) | (X < -1000) | (X > 1000)
    return exc


@nb.njit(inline="always", **_JIT)
def _fields(b, mbits, X):
    """(neg, biased exponent E, mantissa, binade er at scale X, E's all-ones value) of a float pattern
    (float32 bits, mbits 23, or float64 bits, mbits 52)."""
    ebits = 8 if mbits == 23 else 11
    emask = (1 << ebits) - 1
    b = np.uint64(b)
    neg = np.int64(b >> np.uint64(ebits + mbits)) & 1
    E = np.int64(b >> np.uint64(mbits)) & emask
    man = np.int64(b & np.uint64((1 << mbits) - 1))
    return neg, E, man, E - (emask >> 1) - X, emask


@nb.njit(inline="always", **_JIT)
def _table_code(b, v, mbits, X, inv, tg, cls, rnd, seed, rbits, nsr, table, log, cuts, floor, ext, rank_code,
                rows, row_base, n, zero_pos, zero_neg):
    """(code, exceptional) of the float pattern b (float32 bits, mbits 23, or float64 bits, mbits 52; v its
    value) at scale exponent X (inv = 2^-X), element tg of the array, from the Codes arrays (passed one by
    one: a NamedTuple read inside a loop costs a reference count per read). cls is the rounding's kind,
    a constant at each call (0 table, 1 log, 2 stochastic with drawn bits, 3 stochastic with the bits
    rbits) so that each loop compiles one path only. Zeros get their code here; for exceptional elements
    (_exceptional) the code is a placeholder, replaced by _float_code's."""
    neg, E, man, er, emask = _fields(b, mbits, X)
    row = min(max(er - row_base, 0), rows - 1)
    sh = mbits - KEYBITS
    key = ((man >> sh) << 1) | np.int64((man & ((1 << sh) - 1)) != 0)
    # data-dependent choices are arithmetic, not branches: a random sign or a zero must not mispredict
    if cls == 1:
        cnt = np.int64(0)
        for i in range(7):
            cnt += np.int64(man > cuts[i])
        code = np.int64(log[(neg * rows + row) * 8 + cnt])
    elif cls >= 2:
        r = np.int64(floor[(row << KEYSHIFT) | key])
        lo, hi = ext[r], ext[r + 1]
        a = abs(np.float64(v)) * inv  # exact: a normal float times a power of two, in range
        d = np.uint64(rbits[tg]) if cls == 3 else _draw_bits(seed, np.uint64(tg), 32 if nsr < 0 else nsr)
        up = (r < n) & (a != lo) & _stochastic_up(rnd, a, lo, hi, 1.0, d, nsr)
        code = np.int64(rank_code[neg * (n + 1) + r + np.int64(up)])
    else:
        code = np.int64(table[(((neg * rows + row) << KEYSHIFT) | key)])
    zero = np.int64((E == 0) & (man == 0))
    code += zero * (zero_pos + neg * (zero_neg - zero_pos) - code)
    return code, _exceptional(E, man, emask, er, X, cls)


@nb.njit(inline="always", **_JIT)
def _draw_or_replay(seed, rbits, k, nsr):
    """Element k's random bits: drawn from (seed, k) where rbits is None or empty, else replayed from rbits."""
    if rbits is None:
        d = _draw_bits(seed, np.uint64(k), 32 if nsr < 0 else nsr)
    elif rbits.size == 0:
        d = _draw_bits(seed, np.uint64(k), 32 if nsr < 0 else nsr)
    else:
        d = np.uint64(rbits[k])
    return d


@nb.njit(inline="always", **_JIT)
def _exact_code(b, mbits, X, tg, rnd, over, seed, rbits, nsr, T):
    """_float_code of one pattern, with the same random draw as _table_code."""
    neg, kind, e, man = _split(b, mbits)
    d = _draw_or_replay(seed, rbits, tg, nsr) if rnd == 2 or rnd >= 8 else np.uint64(0)
    return _float_code(neg, kind, e, man, mbits, X, rnd, over, np.uint64(d), nsr, T)


@nb.njit(inline="always", **_JIT)
def _run_loop(cls, bits, vals_in, mbits, t0, Xs, invs, xoff, xshift, rnd, seed, rbits, nsr, C, vals, out):
    table, log, floor, ext, rank_code = C.table, C.log, C.floor, C.ext, C.rank_code
    cuts = C.cut23 if mbits == 23 else C.cut52
    rows, row_base, n, zp, zn = C.rows, C.row_base, C.n, C.zero_pos, C.zero_neg
    nexc = 0
    for k in range(bits.size):
        g = xoff + ((t0 + k) >> xshift)  # xshift 63: xoff for every element
        c, e = _table_code(bits[k], vals_in[k], mbits, Xs[g], invs[g], t0 + k, cls, rnd, seed, rbits, nsr,
                           table, log, cuts, floor, ext, rank_code, rows, row_base, n, zp, zn)
        out[k] = vals[c]
        nexc += e
    return nexc


@nb.njit(**_JIT)
def _fix_exceptional(bits, mbits, t0, Xs, xoff, xshift, stochastic, rnd, over, seed, rbits, nsr, T, vals, out):
    """Round the exceptional elements of a run (_exceptional) exactly, one by one (rare)."""
    for k in range(bits.size):
        g = xoff + ((t0 + k) >> xshift)
        _, E, man, er, emask = _fields(bits[k], mbits, Xs[g])
        if _exceptional(E, man, emask, er, Xs[g], 2 if stochastic else 0):
            out[k] = vals[_exact_code(np.uint64(bits[k]), mbits, Xs[g], t0 + k, rnd, over, seed, rbits, nsr, T)]


@nb.njit(**_JIT)
def _encode_run(bits, vals_in, t0, Xs, invs, xoff, xshift, rnd, over, seed, rbits, nsr, C, T, vals, out):
    """Codes (or their values, through `vals`) of a contiguous run of patterns starting at element t0,
    where element t's scale is Xs[xoff + (t >> xshift)] (xshift 63: one scale for the run)."""
    mbits = 23 if bits.itemsize == 4 else 52
    stochastic = rnd == 2 or rnd >= 8
    if rnd == 1:
        nexc = _run_loop(1, bits, vals_in, mbits, t0, Xs, invs, xoff, xshift, rnd, seed, rbits, nsr, C, vals, out)
    elif not stochastic:
        nexc = _run_loop(0, bits, vals_in, mbits, t0, Xs, invs, xoff, xshift, rnd, seed, rbits, nsr, C, vals, out)
    elif rbits.size == 0:
        nexc = _run_loop(2, bits, vals_in, mbits, t0, Xs, invs, xoff, xshift, rnd, seed, rbits, nsr, C, vals, out)
    else:
        nexc = _run_loop(3, bits, vals_in, mbits, t0, Xs, invs, xoff, xshift, rnd, seed, rbits, nsr, C, vals, out)
    if nexc:
        _fix_exceptional(bits, mbits, t0, Xs, xoff, xshift, stochastic, rnd, over, seed, rbits, nsr, T, vals, out)
    return nexc


# ---- array kernels ----------------------------------------------------------------------------
# Element t of an (outer, n, inner) view is (o, j, i); its group is
#   gid_mode 0: 0 (tensor);  1: j (channel);  2: (o * nblocks + j // block) * inner + i (block).
# The kernels cut the flat array into chunks (one parallel task each) and each chunk into runs, within
# which element t's group is xoff + (t >> xshift): one group (xshift 63), consecutive groups (0), or
# aligned power-of-two blocks. Run loops start at 0 on slices, which lets LLVM vectorize them.
CHUNK = 1 << 14


@nb.njit(inline="always", **_JIT)
def _run(t, t1, gid_mode, n, inner, block, nblocks, bshift):
    """(end, xoff, xshift) of the run that starts at element t and ends at or before t1."""
    if gid_mode == 0:
        return t1, 0, 63
    o, j, i = t // (n * inner), (t // inner) % n, t % inner
    if inner > 1:
        end = min(t1, t - i + inner)
        if gid_mode == 1:
            return end, j, 63
        return end, (o * nblocks + j // block) * inner - (t - i), 0
    if gid_mode == 1:
        return min(t1, (o + 1) * n), -o * n, 0
    if bshift >= 0:  # blocks tile every row: group t >> bshift
        return t1, 0, bshift
    return min(t1, o * n + min(n, (j // block + 1) * block)), o * nblocks + j // block, 63


@nb.njit(inline="always", **_JIT)
def _block_shift(n, inner, block):
    """log2(block) when blocks of a power-of-two size tile the rows (inner 1, block divides n), else -1."""
    if inner != 1 or n % block != 0 or block & (block - 1) != 0:
        return -1
    s = 0
    while (1 << s) < block:
        s += 1
    return s


@nb.njit(inline="always", **_JIT)
def _encode_chunk(bits, vals_in, t0, gid_mode, n, inner, block, Xs, invs, rnd, over, seed, rbits, nsr,
                  C, T, vals, out):
    nblocks = (n + block - 1) // block
    bshift = _block_shift(n, inner, block)
    t, t1 = t0, t0 + bits.size
    while t < t1:
        end, xoff, xshift = _run(t, t1, gid_mode, n, inner, block, nblocks, bshift)
        a, z = t - t0, end - t0
        _encode_run(bits[a:z], vals_in[a:z], t, Xs, invs, xoff, xshift, rnd, over, seed, rbits, nsr, C, T,
                    vals, out[a:z])
        t = end


@nb.njit(parallel=True, **_JIT)
def encode_patterns(bits, vals_in, gid_mode, shape3, block, Xs, invs, rnd, over, seed, rbits, nsr, C, T,
                    vals, out):
    """Encode float32 or float64 inputs (bits: their uint32 / uint64 view; vals_in: the floats). out[t] =
    vals[code] (vals: the identity for codes, a value table for quantize). seed: the random generator's key
    when rbits is empty (stochastic)."""
    n, inner = shape3[1], shape3[2]
    total = bits.size
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0 = c * CHUNK
        t1 = min(total, t0 + CHUNK)
        _encode_chunk(bits[t0:t1], vals_in[t0:t1], t0, gid_mode, n, inner, block, Xs, invs, rnd, over, seed,
                      rbits, nsr, C, T, vals, out[t0:t1])
    return out


@nb.njit(inline="always", **_JIT)
def _widen(bits, kind, lut, buf):
    """float32 patterns of 16- and 8-bit inputs: kind 1 bfloat16 (a shift), 2 float16 (rebias; subnormals
    through an exact float product), 3 any 8-bit type through its 256-entry table."""
    fb = buf.view(np.float32)
    if kind == 1:
        for k in range(bits.size):
            buf[k] = np.uint32(bits[k]) << np.uint32(16)
    elif kind == 2:
        for k in range(bits.size):  # subnormal candidates first: m 2^-24 is exact in float32
            fb[k] = np.float32(np.uint32(bits[k]) & np.uint32(0x3FF)) * np.float32(2.0 ** -24)
        for k in range(bits.size):
            h = np.uint32(bits[k])
            e = h & np.uint32(0x7C00)
            body = (h & np.uint32(0x7FFF)) << np.uint32(13)
            if e == np.uint32(0x7C00):
                body += np.uint32(0x70000000)  # inf, NaN: exponent field 255
            elif e != 0:
                body += np.uint32(112 << 23)  # normal: rebias 15 -> 127
            else:
                body = buf[k]
            buf[k] = body | ((h & np.uint32(0x8000)) << np.uint32(16))
    else:
        for k in range(bits.size):
            buf[k] = lut[np.int64(bits[k])]


@nb.njit(parallel=True, **_JIT)
def encode_narrow(bits, kind, lut, gid_mode, shape3, block, Xs, invs, rnd, over, seed, rbits, nsr, C, T,
                  vals, out):
    """encode_patterns for 16- and 8-bit float inputs, widened to float32 one chunk at a time (_widen)."""
    n, inner = shape3[1], shape3[2]
    total = bits.size
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0 = c * CHUNK
        t1 = min(total, t0 + CHUNK)
        buf = np.empty(t1 - t0, np.uint32)
        _widen(bits[t0:t1], kind, lut, buf)
        _encode_chunk(buf, buf.view(np.float32), t0, gid_mode, n, inner, block, Xs, invs, rnd, over, seed,
                      rbits, nsr, C, T, vals, out[t0:t1])
    return out


# ---- group maxima -----------------------------------------------------------------------------
# |x| as an unsigned pattern that orders like the magnitudes: the input's own bits without the sign
# (`mask`; non-finite from `inf_bits` up count as 0), or for 8-bit types the float32 pattern of |x|
# from a 256-entry table (`mag`).

@nb.njit(**_JIT)
def _max_run(bits, mag, mask, inf_bits):
    best = np.uint64(0)
    if mag.size > 0:
        for k in range(bits.size):
            best = max(best, np.uint64(mag[np.int64(bits[k])]))
    else:
        zero = mask ^ mask  # 0 of the patterns' own type (a literal 0 would make the select float64)
        for k in range(bits.size):
            v = bits[k] & mask
            best = max(best, np.uint64(v if v < inf_bits else zero))
    return best


@nb.njit(parallel=True, **_JIT)
def max_abs(bits, mag, mask, inf_bits):
    """The largest finite |x| pattern (0 if none)."""
    nchunk = (bits.size + CHUNK * 16 - 1) // (CHUNK * 16)
    part = np.zeros(max(nchunk, 1), np.uint64)
    for c in nb.prange(nchunk):
        part[c] = _max_run(bits[c * CHUNK * 16:(c + 1) * CHUNK * 16], mag, mask, inf_bits)
    return part.max()


@nb.njit(**_JIT)
def _max_into(bits, mag, mask, inf_bits, best):
    """best[k] = max(best[k], |bits[k]| pattern), elementwise."""
    zero = mask ^ mask
    for k in range(bits.size):
        if mag.size > 0:
            v = np.uint64(mag[np.int64(bits[k])])
        else:
            b = bits[k] & mask
            v = np.uint64(b if b < inf_bits else zero)
        best[k] = max(best[k], v)


@nb.njit(parallel=True, **_JIT)
def group_max_abs(bits, mag, mask, inf_bits, gid_mode, shape3, block, ngroups):
    """Each group's largest finite |x| pattern (0 if none), for channel (gid_mode 1) and block (2)
    layouts; every parallel task owns its groups or its partial maxima, so there are no races."""
    outer, n, inner = shape3[0], shape3[1], shape3[2]
    best = np.zeros(ngroups, np.uint64)
    nblocks = (n + block - 1) // block
    if gid_mode == 1 and inner > 1:
        for j in nb.prange(n):
            m = np.uint64(0)
            for o in range(outer):
                t = (o * n + j) * inner
                m = max(m, _max_run(bits[t:t + inner], mag, mask, inf_bits))
            best[j] = m
    elif gid_mode == 1:  # channels along the last axis: partial maxima over slabs of rows
        nslab = min(outer, 64)
        part = np.zeros((nslab, n), np.uint64)
        per = (outer + nslab - 1) // nslab
        for s_ in nb.prange(nslab):
            for o in range(s_ * per, min(outer, (s_ + 1) * per)):
                _max_into(bits[o * n:(o + 1) * n], mag, mask, inf_bits, part[s_])
        for s_ in range(nslab):
            for j in range(n):
                best[j] = max(best[j], part[s_, j])
    elif inner > 1:
        for ob in nb.prange(outer * nblocks):
            o, jb = ob // nblocks, ob % nblocks
            for j in range(jb * block, min(n, (jb + 1) * block)):
                t = (o * n + j) * inner
                _max_into(bits[t:t + inner], mag, mask, inf_bits, best[ob * inner:(ob + 1) * inner])
    else:
        for ob in nb.prange(outer * nblocks):
            o, jb = ob // nblocks, ob % nblocks
            t = o * n + jb * block
            best[ob] = _max_run(bits[t:o * n + min(n, (jb + 1) * block)], mag, mask, inf_bits)
    return best


@nb.njit(parallel=True, **_JIT)
def scale_exps(amax, base, cut, x_none, out):
    """out[g] = group g's scale exponent from its largest finite |x| (float64, 0 where there is none) by the
    rule as scale_rule.exponent_steps tabulates it: base[E] + (mantissa field > cut[E]). Returns how many
    maxima are float64 subnormals, which the table does not cover; their out is left to the caller."""
    bits = amax.view(np.uint64)
    nsub = 0
    for g in nb.prange(bits.size):
        b = bits[g]
        E = np.int64(b >> np.uint64(52))
        f = np.int64(b & np.uint64((1 << 52) - 1))
        X = np.int64(base[E]) + np.int64(f > cut[E])
        out[g] = x_none if b == 0 else X
        nsub += np.int64((E == 0) & (f != 0))
    return nsub


# ---- decode -----------------------------------------------------------------------------------
@nb.njit(**_JIT)
def _decode_run(codes, tab, vt, mults, xoff, xshift, t0, out):
    if tab.size > 0:  # one scale: a gather from its value table
        for k in range(codes.size):
            out[k] = tab[codes[k]]
    elif xshift == 63:
        m = mults[xoff]
        for k in range(codes.size):
            out[k] = vt[codes[k]] * m
    elif xshift == 0:
        for k in range(codes.size):
            out[k] = vt[codes[k]] * mults[xoff + t0 + k]
    else:  # aligned blocks of 2^xshift: a loop per block with its multiplier held (a gather of the multiplier
        # per element, the other way, ran at half the speed)
        k = 0
        while k < codes.size:
            b = (t0 + k) >> xshift
            end = min(codes.size, ((b + 1) << xshift) - t0)
            m = mults[xoff + b]
            for i in range(np.uint64(k), np.uint64(end)):
                out[i] = vt[codes[i]] * m
            k = end


@nb.njit(parallel=True, **_JIT)
def exp2_bits(X, out):
    """out[g] = the float64 bit pattern of 2^X[g], for exponents -1022 <= X <= 1023 (the caller checks): one
    pass, a tenth of np.ldexp's time. out is uint64 (a view taken inside a parallel loop wrote wrong values)."""
    for g in nb.prange(X.size):
        out[g] = np.uint64(np.int64(X[g]) + 1023) << np.uint64(52)
    return out


@nb.njit(parallel=True, **_JIT)
def decode_codes(codes, gid_mode, shape3, block, tab, vt, mults, out):
    """out[t] = value of codes[t] in its group: tab[code] for one scale (its value table, rounded once to
    out's dtype), else vt[code] * mults[group] rounded once (2^X, exact in float64 in the range the caller
    checks, or a float multiplier)."""
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    bshift = _block_shift(n, inner, block)
    total = codes.size
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0 = c * CHUNK
        t1 = min(total, t0 + CHUNK)
        t = t0
        while t < t1:
            end, xoff, xshift = _run(t, t1, gid_mode, n, inner, block, nblocks, bshift)
            _decode_run(codes[t:end], tab, vt, mults, xoff, xshift, t, out[t:end])
            t = end
    return out


# ---- float multipliers (integers, NVFP4) -------------------------------------------------------
@nb.njit(parallel=True, **_JIT)
def encode_mult(bits, mbits, lut, gid_mode, shape3, block, scale, rnd, over, seed, rbits, nsr, T, out):
    """Codes of float bit patterns (float32 or float64; 16- and 8-bit types through `lut`) under a float
    multiplier per group."""
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    use_lut = lut.size > 0
    has_r = rbits.size > 0
    stochastic = rnd == 2 or rnd >= 8
    for t in nb.prange(bits.size):
        o, j, i = t // (n * inner), (t // inner) % n, t % inner
        g = 0 if gid_mode == 0 else (j if gid_mode == 1 else (o * nblocks + j // block) * inner + i)
        b = np.uint64(lut[np.int64(bits[t])]) if use_lut else np.uint64(bits[t])
        neg, kind, e, man = _split(b, mbits)
        v = 0.0 if kind != 1 else math.ldexp(1.0 + man / float(1 << mbits), e)
        rb = np.uint64(0)
        if stochastic:
            rb = np.uint64(rbits[t]) if has_r else _draw_bits(seed, np.uint64(t), 32 if nsr < 0 else nsr)
        out[t] = _mult_code(neg, kind, v, scale[g], rnd, over, rb, nsr, T)
    return out


# ---- fast path: one scale, a deterministic rounding, inputs with float32 bit patterns ------------
# A 64 Ki-entry table per (format, X, rounding, overflow) answers each element from 16 bits of its
# float32 pattern. Nearest uses round-to-odd keys (top 16 bits, the last OR-ed with any lower bit):
# for normal numbers that decides every case, since no threshold needs more than 6 fraction bits.
# Otherwise a key stands for an interval of patterns; the rounding is monotone, so when both ends
# of the interval get the same code every pattern in it does, and the entry holds that code; when
# they differ (a log breakpoint, or a subnormal split across keys) it holds -1 and the element is
# rounded exactly by _float_code. Each entry is computed by _float_code itself.

@nb.njit(inline="always", **_JIT)
def _code32(b, X, rnd, over, T):
    neg, kind, e, man = _split(b, 23)
    return _float_code(neg, kind, e, man, 23, X, rnd, over, np.uint64(0), -1, T)


@nb.njit(**_JIT)
def key16_table(X, rnd, over, odd_keys, T):
    """int16 code for every 16-bit key at scale X, or -1 where the key does not decide. odd_keys: the
    round-to-odd keys, valid for the table roundings of a format whose thresholds have <= 6 fraction bits."""
    tab = np.empty(65536, np.int16)
    odd = odd_keys
    for k in range(65536):
        normal = ((k >> 7) & 255) not in (0, 255)
        if odd and (k % 2 == 0 or normal):
            # an even round-to-odd key is the single pattern k << 16; an odd one of a normal
            # number lies strictly between two 7-bit points, where no threshold is
            tab[k] = _code32(np.uint64(k) << np.uint64(16), X, rnd, over, T)
            continue
        # the patterns of key k: (k-1)<<16 (exclusive) .. k<<16 | 0xFFFF (odd keys), or k<<16 ..
        # k<<16 | 0xFFFF (truncated keys)
        lo = (np.uint64(k - 1) << np.uint64(16)) + np.uint64(1) if odd else np.uint64(k) << np.uint64(16)
        hi = (np.uint64(k) << np.uint64(16)) | np.uint64(0xFFFF)
        c0 = _code32(lo, X, rnd, over, T)
        c1 = _code32(hi, X, rnd, over, T)
        tab[k] = c0 if c0 == c1 else -1
    return tab


@nb.njit(**_JIT)
def refine_table(tab, X, rnd, over, T):
    """Second level for the undecided keys of a truncated-key table (log rounding): the next 8 bits
    of the pattern split each such key into 256 intervals, decided the same way (both ends agree)
    or -1. Returns (tab with undecided key number i stored as -(i + 2), the int16 sub-table)."""
    keys = np.flatnonzero(tab < 0)
    sub = np.empty(keys.size * 256, np.int16)
    out = tab.copy()
    for i in range(keys.size):
        out[keys[i]] = -(i + 2)
        for s_ in range(256):
            lo = (np.uint64(keys[i]) << np.uint64(16)) | (np.uint64(s_) << np.uint64(8))
            c0 = _code32(lo, X, rnd, over, T)
            c1 = _code32(lo | np.uint64(0xFF), X, rnd, over, T)
            sub[i * 256 + s_] = c0 if c0 == c1 else -1
    return out, sub


@nb.njit(inline="always", **_JIT)
def _pattern32(bits, k, lut):
    """float32 pattern of element k: the input's own (lut None: Numba then compiles the table read away), or
    through `lut` for 16- and 8-bit types."""
    if lut is None:
        p = np.uint32(bits[k])
    else:
        p = lut[np.uint64(bits[k])]
    return p


@nb.njit(parallel=True, **_JIT)
def lookup_refined(bits, lut, tab, sub, vals, X, rnd, over, T, out):
    """out[t] = vals[code of element t]: 16-bit key, then 8 more bits where that does not decide,
    then the exact element kernel (about 1 element in 5000 for log rounding of typical weights)."""
    for t in nb.prange(bits.size):
        b, k = _key16(bits, t, lut, np.uint32(0))
        c = np.int64(tab[k])
        # the second level is read for every element (entry 0 of sub stands in where the key decides): a
        # read costs less than the branch it replaces, which mispredicts on the ~6% of keys at a breakpoint
        c2 = np.int64(sub[max(-c - 2, 0) * 256 + np.int64((b >> np.uint32(8)) & np.uint32(255))])
        c = c if c >= 0 else c2
        if c < 0:
            c = _code32(np.uint64(b), X, rnd, over, T)
        out[t] = vals[c]
    return out


@nb.njit(inline="always", **_JIT)
def _key16(bits, t, lut, omask):
    """(float32 pattern, 16-bit key) of element t: the round-to-odd key where omask is 0xFFFF (any of the low
    16 bits sets the last), the truncated one where it is 0. 16-bit input without a `lut` is its own key (the
    table is then indexed by the input's patterns)."""
    b = _pattern32(bits, t, lut)
    k = (b >> np.uint32(16)) | np.uint32((b & omask) != 0)
    if lut is None:
        if _bitwidth(bits) == 16:
            k = b
    return b, k


OUTSIDE_KEY = 0x7FFF  # _keys64's mark of a float64 element its key does not stand for (a NaN key)


@nb.njit(**_JIT)
def _keys64(bits, t0, t1, buf):
    """buf[k] = the 16-bit round-to-odd key (see key16_table) of float64 element t0 + k, as the float32 pattern of
    its value rounded to odd would have it: sign, the exponent rebiased, 7 mantissa bits, and the last bit set by
    any of the other 45. That key decides the value alike, so float64 input reads the float32 tables. Where the
    element is neither a zero nor in float32's normal range (inf and NaN among them) buf gets OUTSIDE_KEY, which
    no such element has, and the count of those is returned. One loop with a branch for the rare case: LLVM
    vectorizes it (it did not when its parts were inlined functions)."""
    bad = 0
    for k in range(np.uint64(0), np.uint64(t1 - t0)):
        b = np.uint64(bits[np.uint64(t0) + k])
        hi = np.uint32(b >> np.uint64(45))  # sign, 11 exponent bits, 7 mantissa bits
        u = (hi & np.uint32(0x3FFFF)) - np.uint32(896 << 7)  # float32's exponent field (1023 - 127 = 896 less), 7 bits
        key = ((hi >> np.uint32(3)) & np.uint32(0x8000)) | (u & np.uint32(0x7FFF)) \
            | np.uint32((b & np.uint64((1 << 45) - 1)) != np.uint64(0))
        if u - np.uint32(1 << 7) >= np.uint32(254 << 7):  # exponent field outside 1..254: rare, so a branch
            if (b << np.uint64(1)) == np.uint64(0):  # a zero: float32's zero key
                key = (hi >> np.uint32(3)) & np.uint32(0x8000)
            else:
                key = np.uint32(OUTSIDE_KEY)
                bad += 1
        buf[k] = key
    return bad


@nb.njit(inline="always", **_JIT)
def _gather(bits, lut, omask, tab, out):
    """out[k] = tab[key of element k] (the loop of `lookup`)."""
    for k in range(np.uint64(0), np.uint64(bits.size)):
        out[k] = tab[_key16(bits, k, lut, omask)[1]]


@nb.njit(parallel=True, **_JIT)
def lookup(bits, lut, omask, tab, out):
    """out[t] = tab[key of element t]: a plain gather (codes, or their values for quantize in one
    pass). Entries the key does not decide are filled afterwards by `fill_undecided`. Unsigned indices, int32
    or float32 entries: LLVM then vectorizes the gather (see the shifted-key kernels below). The keys of float64
    input (round-to-odd keys only) are made one chunk at a time (_keys64), then read like 16-bit input; returns
    how many float64 elements their key does not stand for, which `fill_undecided` rounds exactly (0 for
    narrower input)."""
    total = bits.size
    nchunk = (total + CHUNK - 1) // CHUNK
    part = np.zeros(nchunk, np.int64)
    for c in nb.prange(nchunk):
        t0, t1 = c * CHUNK, min(total, (c + 1) * CHUNK)
        if _bitwidth(bits) == 64:
            keys = np.empty(t1 - t0, np.uint16)
            part[c] = _keys64(bits, t0, t1, keys)
            _gather(keys, None, omask, tab, out[t0:t1])
        else:
            _gather(bits[t0:t1], lut, omask, tab, out[t0:t1])
    return part.sum()


@nb.njit(inline="always", **_JIT)
def _element_code(bits, t, lut, X, rnd, over, T):
    """_float_code of element t at scale exponent X (a deterministic rounding): float64 input from its own 52-bit
    mantissa, everything else from its float32 pattern."""
    if _bitwidth(bits) == 64:
        neg, kind, e, man = _split(np.uint64(bits[t]), 52)
        c = _float_code(neg, kind, e, man, 52, X, rnd, over, np.uint64(0), -1, T)
    else:
        c = _code32(np.uint64(_pattern32(bits, t, lut)), X, rnd, over, T)
    return c


@nb.njit(parallel=True, **_JIT)
def fill_undecided(bits, lut, omask, undecided, X, rnd, over, T,
                   vals, out):
    """Second pass for the elements whose key does not decide, and float64 elements their key does not stand for
    (_keys64): round them exactly (_element_code). A separate pass keeps `lookup` a tight, vectorizable loop."""
    use_vals = vals.size > 0
    total = bits.size
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0, t1 = c * CHUNK, min(total, (c + 1) * CHUNK)
        keys = np.empty(t1 - t0 if _bitwidth(bits) == 64 else 0, np.uint16)
        if _bitwidth(bits) == 64:
            _keys64(bits, t0, t1, keys)
        for t in range(t0, t1):
            if _bitwidth(bits) == 64:
                key = keys[t - t0]
                exact = key == OUTSIDE_KEY or undecided[key]
            else:
                exact = undecided[_key16(bits, t, lut, omask)[1]]
            if exact:
                code = _element_code(bits, t, lut, X, rnd, over, T)
                if use_vals:
                    out[t] = vals[code]
                else:
                    out[t] = code
    return out


# ---- per channel and per block: one table at scale 0, keys shifted by each group's exponent ------------
# Dividing by 2^X subtracts X from the exponent field, so the key of |x| / 2^X at scale 0 is x's key less
# X << 7 wherever both exponents are normal (1 <= E, E - X <= 254): one table serves every scale exponent.
# Zeros keep their own key. Anything else (subnormal, infinite and NaN inputs, |x| / 2^X outside float32's
# normal range) and keys the table leaves undecided are rounded exactly (_code32).
# The tables: int32 codes on round-to-odd keys (omask 0xFFFF: the low 16 bits set the key's last bit), every
# normal key decided (sub None); or on truncated keys (omask 0) with refine_table's second level `sub`. int32,
# not uint8 or int16: LLVM vectorizes a gather of 32-bit entries (AVX-512), twice as fast here, and not one of
# bytes; None, not an empty array, so that Numba compiles the second level away.
# Loops index with unsigned integers: Numba then skips the negative-index check, which keeps LLVM from
# vectorizing a loop that does not start at 0.

PIECE = 512  # elements per exceptional-element flag in _encode_shifted


@nb.njit(inline="always", **_JIT)
def _shifted_code(b, d, omask, tab, sub):
    """Code of float32 pattern b from the scale-0 tables at the key shift d = X << 7 (zeros unshifted), or -1
    where the keys do not decide; b must not be exceptional (see above)."""
    key = (b >> np.uint32(16)) | np.uint32((b & omask) != 0)
    c = np.int64(tab[(key - d) & np.uint32(0xFFFF) if (b & np.uint32(0x7FFFFFFF)) != 0 else key])
    if sub is not None:  # truncated keys: the next 8 bits decide nearly every key that does not
        c2 = np.int64(sub[np.uint64(max(-c - 2, 0) * 256) + np.uint64((b >> np.uint32(8)) & np.uint32(255))])
        c = c if c >= 0 else c2
    return c


@nb.njit(inline="always", **_JIT)
def _in_range(b, lo, span):
    """Whether float32 pattern b has an exponent field in lo..lo + span (unsigned: one compare)."""
    return np.uint32(((b >> np.uint32(23)) & np.uint32(255)) - lo) <= span


@nb.njit(inline="always", **_JIT)
def _exponent_window(X):
    """(lo, span): the exponent fields E with 1 <= E <= 254 and 1 <= E - X <= 254 (none: lo 256)."""
    lo, hi = max(1, X + 1), min(254, 254 + X)
    some = np.int64(hi >= lo)  # arithmetic, not branches: a branch here slowed the loops after it 2x
    return np.uint32(some * lo + (1 - some) * 256), np.uint32(some * (hi - lo))


@nb.njit(inline="always", **_JIT)
def _exceptional_at(b, X, c):
    """Whether element b (code c from _shifted_code) at scale exponent X is rounded exactly instead."""
    lo, span = _exponent_window(X)
    return (c < 0) | (((b & np.uint32(0x7FFFFFFF)) != 0) & ~_in_range(b, lo, span))


@nb.njit(inline="always", **_JIT)
def _extremes(bits, lut, t, end):
    """(largest |x| pattern, smallest nonzero |x| pattern less 1) of elements t..end; no select, which would
    slow the loop: zeros wrap to 0xFFFFFFFF in the second."""
    top, low = np.uint32(0), np.uint32(0xFFFFFFFF)
    for k in range(np.uint64(t), np.uint64(end)):
        v = _pattern32(bits, k, lut) & np.uint32(0x7FFFFFFF)
        top = max(top, v)
        low = min(low, np.uint32(v - np.uint32(1)))
    return top, low


@nb.njit(inline="always", **_JIT)
def _clean(top, low, X):
    """Whether no element of a piece with these _extremes is exceptional at scale exponent X."""
    lo, span = _exponent_window(X)
    return (top < np.uint32(0x7F800000)) & ((top == 0) | (_in_range(top, lo, span)
                                                        & _in_range(np.uint32(low + np.uint32(1)), lo, span)))


@nb.njit(**_JIT)  # a call, not inlined: rare, and inlined it slowed the loops around it
def _fix_shifted(bits, lut, t, end, Xs, xoff, xshift, omask, tab, sub, rnd, over, T, out):
    """Round the exceptional elements among t..end exactly; element k's scale exponent is Xs[xoff + (k >> xshift)]."""
    for k in range(t, end):
        X = np.int64(Xs[xoff + (k >> xshift)])
        b = _pattern32(bits, k, lut)
        if _exceptional_at(b, X, _shifted_code(b, np.uint32(X << 7), omask, tab, sub)):
            out[k] = _code32(np.uint64(b), X, rnd, over, T)


@nb.njit(inline="always", **_JIT)
def _encode_shifted(bits, lut, t, end, Xs, g, clean, omask, tab, sub, rnd, over, T, out):
    """Codes of elements t..end, which share the scale exponent Xs[g]; unless `clean` (_clean), or where a
    key does not decide, a second pass (in cache) rounds the exceptional ones exactly. Undecided keys (1 in
    about 5000 log-rounded weights) are flagged per piece of PIECE elements, so that a long channel is not
    passed twice for one of them. The flag is an integer: a boolean reduction kept the loop from vectorizing."""
    X = np.int64(Xs[g])
    d = np.uint32(X << 7)
    for p0 in range(t, end, PIECE):
        p1 = min(end, p0 + PIECE)
        bad = 1 - np.int64(clean)
        for k in range(np.uint64(p0), np.uint64(p1)):
            c = _shifted_code(_pattern32(bits, k, lut), d, omask, tab, sub)
            out[k] = max(c, 0)
            if sub is not None:  # only truncated keys leave keys undecided
                bad |= np.int64(c < 0)
        if bad:
            _fix_shifted(bits, lut, p0, p1, Xs, g, 63, omask, tab, sub, rnd, over, T, out)


@nb.njit(inline="always", **_JIT)
def _encode_shifted_each(bits, lut, t, end, Xs, xoff, omask, tab, sub, rnd, over, T, out):
    """_encode_shifted where element k has its own scale exponent Xs[xoff + k] (channels along the last axis),
    each element checked."""
    bad = np.int64(0)
    for k in range(np.uint64(t), np.uint64(end)):
        X = np.int64(Xs[np.uint64(xoff + np.int64(k))])
        b = _pattern32(bits, k, lut)
        c = _shifted_code(b, np.uint32(X << 7), omask, tab, sub)
        out[k] = max(c, 0)
        bad |= np.int64(_exceptional_at(b, X, c))
    if bad:
        _fix_shifted(bits, lut, t, end, Xs, xoff, 0, omask, tab, sub, rnd, over, T, out)


@nb.njit(parallel=True, **_JIT)
def lookup_scaled(bits, lut, omask, tab, sub, Xs, gid_mode, shape3, block, rnd, over, T, out):
    """Codes with a scale exponent per group (Xs), from the scale-0 tables read at shifted keys, where the
    groups are not contiguous runs (else encode_contiguous does it in one pass)."""
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    bshift = _block_shift(n, inner, block)
    total = bits.size
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0 = c * CHUNK
        t1 = min(total, t0 + CHUNK)
        t = t0
        while t < t1:  # runs of one group, of consecutive groups, or of aligned blocks
            end, xoff, xshift = _run(t, t1, gid_mode, n, inner, block, nblocks, bshift)
            if xshift == 0:
                _encode_shifted_each(bits, lut, t, end, Xs, xoff, omask, tab, sub, rnd, over, T, out)
            else:
                step = end - t if xshift == 63 else 1 << xshift
                for s_ in range(t, end, step):
                    e_ = min(end, s_ + step)
                    g = xoff + (s_ >> xshift)
                    top, low = _extremes(bits, lut, s_, e_)
                    _encode_shifted(bits, lut, s_, e_, Xs, g, _clean(top, low, np.int64(Xs[g])), omask, tab, sub, rnd,
                                    over, T, out)
            t = end
    return out


@nb.njit(parallel=True, **_JIT)
def encode_contiguous(bits, lut, gid_mode, shape3, block, base, cut, x_none, omask, tab, sub, rnd, over, T, Xs,
                      out, floats, minifloat, specials):
    """One pass for groups that are contiguous runs (blocks along the last axis, channels along the first):
    each group's largest finite |x|, its scale exponent by the tabulated rule (scale_rule.exponent_steps, float32
    patterns) into Xs, then its codes while it is in cache. A group whose largest finite |x| is a float32
    subnormal is left out (the table does not cover it): returns how many. With `minifloat` = (mbits, emin,
    maxmag, sign) of an IEEE-like format (mbits -1: none; float32 input, nearest), a group whose exponent
    minifloat_in_bounds takes goes through _minifloat_group instead of the tables, reading `floats`."""
    mbits, emin, maxmag, sign = minifloat
    codes = _special_codes(specials)
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    size = inner if gid_mode == 1 else block
    ngroups = Xs.size
    per = max(1, CHUNK // size)
    nsub = 0
    finite = np.uint32(0x7F800000)
    for c in nb.prange((ngroups + per - 1) // per):
        g, g1 = c * per, min(ngroups, (c + 1) * per)
        o, jb = g // nblocks, g % nblocks  # group g = row o, block jb (gid_mode 2); kept by increments, not divisions
        while g < g1:
            if gid_mode == 1:
                t, end = g * inner, (g + 1) * inner
            else:
                t, end = o * n + jb * block, o * n + min(n, (jb + 1) * block)
            top, low = _extremes(bits, lut, t, end)
            special = top >= finite
            if special:  # an inf or NaN: the largest finite |x| again (rare; a select slows _extremes)
                top = np.uint32(0)
                for k in range(np.uint64(t), np.uint64(end)):
                    v = _pattern32(bits, k, lut) & np.uint32(0x7FFFFFFF)
                    top = max(top, v if v < finite else np.uint32(0))
            E = np.uint64(top >> np.uint32(23))
            X = x_none if top == 0 else np.int64(base[E]) + np.int64(np.int64(top & np.uint32(0x7FFFFF)) > cut[E])
            Xs[g] = X
            if E == np.uint64(0) and top != 0:
                nsub += 1
            elif (mbits >= 0) & minifloat_in_bounds(X, mbits, emin):
                _minifloat_group(bits, floats, t, end, X, mbits, emin, maxmag, sign, codes, None, out)
            else:
                _encode_shifted(bits, lut, t, end, Xs, g, ~special & _clean(top, low, X), omask, tab, sub, rnd, over,
                                T, out)
            g += 1
            jb += 1
            if jb == nblocks:
                o, jb = o + 1, 0
    return nsub


# ---- stochastic rounding at shifted keys ------------------------------------------------------------
# The floor of |x| / 2^X on the grid is decided by its truncated 16-bit key (every grid magnitude has at
# most 6 fraction bits in its binade), so one floor-rank table at scale 0 serves every scale exponent as
# above; lo, hi and the random draw then decide up or down by _stochastic_up's exact comparison, as in
# _table_code. float32 input only (the comparison reads its value); exceptional elements as above.

@nb.njit(**_JIT)  # a call, not inlined: rare
def _fix_stochastic(bits, t, end, X, rnd, over, seed, rbits, nsr, T, out):
    for k in range(t, end):
        b = np.uint32(bits[k])
        if _exceptional_at(b, X, 0):
            out[k] = _exact_code(np.uint64(b), 23, X, k, rnd, over, seed, rbits, nsr, T)


@nb.njit(inline="always", **_JIT)
def _stochastic_spacing_up(b, j, R, sk, c0, c1, ties):
    """_stochastic_decide in integers where the grid step at the floor is a power of two 2^s of which the floor
    is a multiple (stochastic_key_table): then (a - lo) / (hi - lo) = F / 2^j, F the part of the element's
    24-bit significand M below its bit j (j = 23 + s - binade; beyond sk + 24 nothing changes, so j is capped
    there), and t = sign(F 2^sk / 2^j - (c0 + c1 R)) is the sign of F 2^(sk + 24 - j) - (c0 + c1 R) 2^24: both
    sides below 2^58, one shift. b: a float32 pattern that is a zero or normal at its scale."""
    j = min(j, sk + 24)
    M = np.int64(b & np.uint32(0x7FFFFF)) | (np.int64((b & np.uint32(0x7F800000)) != 0) << 23)  # zero: 0
    C = np.int64(c0) + np.int64(c1) * np.int64(R)  # c0, c1: integers (as floats), so C is exact
    diff = ((M & ((np.int64(1) << j) - 1)) << (sk + 24 - j)) - (C << 24)
    tie_up = (ties >> (np.int64(R) & 1)) & 1
    return (diff > 0) | ((diff == 0) & (tie_up == 1))


@nb.njit(inline="always", **_JIT)
def _stochastic_floor_code(b, a, d, floor0, ext, rank_code, n, R, sk, c0, c1, ties):
    """Code of float32 pattern b (a: its value at scale 0, |x| 2^-X; zero or normal there, d = X << 7) under
    the stochastic rule (sk, c0, c1, ties) with the random bits R: the floor rank, then a float comparison."""
    r = _shifted_code(b, d, np.uint32(0), floor0, None)  # truncated keys decide the floor
    up = (r < n) & _stochastic_decide(a, ext[r], ext[r + 1], 1.0, R, sk, c0, c1, ties)  # a = lo: down
    return rank_code[np.int64(b >> np.uint32(31)) * (n + 1) + r + np.int64(up)]


@nb.njit(inline="always", **_JIT)
def _stochastic_run(bits, floats, p0, p1, X, steps, floor0, ext, rank_code, n, seed, rbits, nsr, sk, c0, c1, ties,
                    out):
    """Codes of elements p0..p1 (scale exponent X, zero or normal there) under the stochastic rule: from `steps`
    with integers, then, for the keys where the grid step is not a power of two (j = 255), again with floats
    (a second pass: a float path inside the loop halved its speed)."""
    d = np.uint32(X << 7)
    odd = np.int64(0)
    for k in range(np.uint64(p0), np.uint64(p1)):
        b = np.uint32(bits[k])
        e = np.int64(_shifted_code(b, d, np.uint32(0), steps, None))
        up = _stochastic_spacing_up(b, e >> 16, _draw_or_replay(seed, rbits, k, nsr), sk, c0, c1, ties)
        out[k] = (e >> (np.int64(up) << 3)) & 255
        odd |= np.int64((e >> 16) == 255)
    if odd:
        inv = 2.0 ** -X
        for k in range(np.uint64(p0), np.uint64(p1)):
            b = np.uint32(bits[k])
            if (_shifted_code(b, d, np.uint32(0), steps, None) >> 16) == 255:
                out[k] = _stochastic_floor_code(b, abs(np.float64(floats[k])) * inv, d, floor0, ext, rank_code, n,
                                                _draw_or_replay(seed, rbits, k, nsr), sk, c0, c1, ties)


@nb.njit(parallel=True, **_JIT)
def stochastic_scaled(bits, floats, floor0, ext, rank_code, n, steps, Xs, gid_mode, shape3, block, rnd, over, seed,
                      rbits, nsr, T, out, minifloat, specials):
    """Stochastic codes of float32 input (bits, and floats: the same memory as float32) with a scale exponent
    per group (Xs): the floor rank from the scale-0 table `floor0` at shifted truncated keys, then
    _stochastic_up with the bits drawn from (seed, element index), or replayed from rbits. For keys where the
    grid step above the floor is a power of two, `steps` (stochastic_key_table: both codes and the step's bit
    position j per key, j = 255 elsewhere) replaces the floor table and the float comparison with one read and
    integers (_stochastic_spacing_up). With `minifloat` = (mbits, emin, maxmag, sign) of an IEEE-like format
    (mbits -1: none), a piece whose exponent minifloat_in_bounds takes is rounded by _minifloat_stochastic, no
    table read; specials: its six codes (_minifloat_nearest)."""
    n_, inner = shape3[1], shape3[2]
    nblocks = (n_ + block - 1) // block
    bshift = _block_shift(n_, inner, block)
    total = bits.size
    sk, c0, c1, ties = _stochastic_rule(rnd, nsr)
    mbits, emin, maxmag, sign = minifloat
    codes = _special_codes(specials)
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0 = c * CHUNK
        t1 = min(total, t0 + CHUNK)
        t = t0
        while t < t1:  # pieces of one group each (one element each for channels along the last axis)
            end, xoff, xshift = _run(t, t1, gid_mode, n_, inner, block, nblocks, bshift)
            step = end - t if xshift == 63 else 1 << xshift
            for p0 in range(t, end, step):
                p1 = min(end, p0 + step)
                X = np.int64(Xs[xoff + (p0 >> xshift)])
                if (mbits >= 0) & minifloat_in_bounds(X, mbits, emin):  # no table; specials included
                    if nsr < 0:
                        ek, e0, e1, et = EXACT_RULE
                        _minifloat_stochastic_run(bits, p0, p1, X, mbits, emin, maxmag, sign, codes, seed, rbits, nsr,
                                                  ek, e0, e1, et, out)
                    else:
                        _minifloat_stochastic_run(bits, p0, p1, X, mbits, emin, maxmag, sign, codes, seed, rbits, nsr,
                                                  sk, c0, c1, ties, out)
                    continue
                top, low = _extremes(bits, None, p0, p1)
                if nsr < 0:  # the rule's constants known to the compiler: a third faster
                    ek, e0, e1, et = EXACT_RULE
                    _stochastic_run(bits, floats, p0, p1, X, steps, floor0, ext, rank_code, n, seed, rbits, nsr,
                                    ek, e0, e1, et, out)
                else:
                    _stochastic_run(bits, floats, p0, p1, X, steps, floor0, ext, rank_code, n, seed, rbits, nsr,
                                    sk, c0, c1, ties, out)
                if not _clean(top, low, X):
                    _fix_stochastic(bits, p0, p1, X, rnd, over, seed, rbits, nsr, T, out)
            t = end
    return out


# ---- IEEE-like minifloats, nearest: integer arithmetic and one float rounding, no table --------------------
# Where a format's magnitudes are those of a sign-magnitude float with `mbits` mantissa bits and least normal
# binade emin (code = magnitude index, | the sign bit when negative; numba_backend.minifloat_layout checks this
# against the format's own code table), the index of a = |x| / 2^X in binade emin + d, d >= 0, is the float32
# pattern less the exponent field of binade emin - 1, shifted right by 23 - mbits: the field lands in the
# index's exponent bits, and rounding to nearest even is adding half an ulp less one plus the kept last bit
# (a carry out of the mantissa lands on the next binade; past the largest index is overflow). Below binade
# emin the index is a / 2^(emin - mbits) rounded to an integer: one float32 multiply by a power of two (exact,
# or a value below 2^-126 that rounds to 0 either way) and one rint. No table and no gather, so LLVM
# vectorizes it where gathers are slow (AVX2: 8 lanes of 32 bits). What NaN, inf and overflow become is the
# reference's answer, passed in as six codes. The other roundings read the tables (their float form would
# round the product in float32 where a directed rounding must not).

@nb.njit(inline="always", **_JIT)
def _minifloat_code(u, neg, mag, maxmag, sign, specials):
    """Code of magnitude index mag with the sign bit neg for |pattern| u: overflow past maxmag, inf and NaN input
    from specials = (overflow +, overflow -, inf +, inf -, NaN +, NaN -) codes."""
    over_pos, over_neg, inf_pos, inf_neg, nan_pos, nan_neg = specials
    code = np.uint32(mag | (neg * sign))
    code = code if mag <= maxmag else (over_neg if neg == np.uint32(1) else over_pos)
    if u >= np.uint32(0x7F800000):
        code = (nan_neg if neg == np.uint32(1) else nan_pos) if u != np.uint32(0x7F800000) \
            else (inf_neg if neg == np.uint32(1) else inf_pos)
    return code


@nb.njit(inline="always", **_JIT)
def _minifloat_nearest(b, xf, off, sh0, hm1, s, minnorm, maxmag, sign, specials):
    """Code of float32 pattern b (value xf), from encode_minifloat's constants (see there); specials as in
    _minifloat_code."""
    u = np.uint32(b & np.uint32(0x7FFFFFFF))
    neg = np.uint32(b >> np.uint32(31))
    v = np.uint32(u - off)
    normal = np.uint32(np.uint32(v + hm1 + np.uint32(np.uint32(v >> sh0) & np.uint32(1))) >> sh0)
    below = np.uint32(np.int32(np.rint(abs(xf) * s)))
    mag = below if u < minnorm else normal
    return _minifloat_code(u, neg, mag, maxmag, sign, specials)


@nb.njit(inline="always", **_JIT)
def _minifloat_run(bits, floats, off, sh0, hm1, s, minnorm, maxmag, sign, specials, vals, out):
    """out[k] = _minifloat_nearest of element k, or its value vals[code] (the loop of encode_minifloat)."""
    if vals is None:
        for k in range(np.uint64(0), np.uint64(bits.size)):
            out[k] = _minifloat_nearest(bits[k], floats[k], off, sh0, hm1, s, minnorm, maxmag, sign, specials)
    else:
        for k in range(np.uint64(0), np.uint64(bits.size)):
            out[k] = vals[_minifloat_nearest(bits[k], floats[k], off, sh0, hm1, s, minnorm, maxmag, sign, specials)]


@nb.njit(inline="always", **_JIT)
def minifloat_in_bounds(X, mbits, emin):
    """Whether encode_minifloat takes scale exponent X: 127 + X + emin (the exponent field of binade emin at
    scale X) >= 1, so patterns from it up are normal there and a float32 subnormal lands below it, and
    2^(mbits - emin - X) a normal float32."""
    return (127 + X + emin >= 1) & (mbits - emin - X >= -126) & (mbits - emin - X <= 127)


@nb.njit(inline="always", **_JIT)
def _special_codes(specials):
    """The six codes of _minifloat_nearest as uint32, converted once per call, not per group."""
    return (np.uint32(specials[0]), np.uint32(specials[1]), np.uint32(specials[2]), np.uint32(specials[3]),
            np.uint32(specials[4]), np.uint32(specials[5]))


@nb.njit(inline="always", **_JIT)
def _minifloat_constants(X, mbits, emin):
    """(base, off, minnorm, sh0, hm1, s) at scale exponent X (minifloat_in_bounds): base the exponent field of
    binade emin there, off that of binade emin - 1 in place, minnorm the least pattern of binade emin, sh0 the
    bits below the kept mantissa, hm1 half an ulp less one, s = 2^(mbits - emin - X)."""
    base = 127 + np.int64(X) + emin
    return (base, np.uint32((base - 1) << 23), np.uint32(min(base, 255) << 23), np.uint32(23 - mbits),
            np.uint32((1 << (22 - mbits)) - 1), np.float32(2.0 ** (mbits - emin - np.int64(X))))


@nb.njit(inline="always", **_JIT)
def _minifloat_group(bits, floats, t, end, X, mbits, emin, maxmag, sign, codes, vals, out):
    """Elements t..end at scale exponent X (minifloat_in_bounds) through _minifloat_run; codes from
    _special_codes."""
    _, off, minnorm, sh0, hm1, s = _minifloat_constants(X, mbits, emin)
    _minifloat_run(bits[t:end], floats[t:end], off, sh0, hm1, s, minnorm, np.uint32(maxmag), np.uint32(sign), codes,
                   vals, out[t:end])


@nb.njit(parallel=True, **_JIT)
def encode_minifloat(bits, floats, X, mbits, emin, maxmag, sign, specials, vals, out):
    """out[t] = the code, rounded to nearest even, of float32 element t (its pattern bits[t], value floats[t])
    at scale exponent X (minifloat_in_bounds) in an IEEE-like format (mbits, emin, maxmag, sign:
    numba_backend.MinifloatLayout), or with `vals` (not None) its value vals[code]."""
    total = bits.size
    codes = _special_codes(specials)
    for c in nb.prange((total + CHUNK - 1) // CHUNK):
        t0, t1 = c * CHUNK, min(total, (c + 1) * CHUNK)
        _minifloat_group(bits, floats, t0, t1, X, mbits, emin, maxmag, sign, codes, vals, out)
    return out


# Stochastic rounding of the same formats: the floor index is the nearest path's index truncated, and whether to
# go up is _stochastic_spacing_up's integer comparison at the significand's bit j of the grid step: in the normal
# binades the pattern less off shifted right by j = 23 - mbits; below them the 24-bit significand shifted by j,
# one more per binade (a float32 subnormal counts as binade -126). Index max + 1 is the overflow code, as the
# tables' rank n is. The loop takes every element as normal, with j a constant there (LLVM then shifts by a
# scalar), and where a piece of 64 has an element below the normal binades, rounds the piece again with j and the
# floor chosen per element (_minifloat_below). Measured on 16M GG weights (about 1 element in 1300 below per
# tensor): at 2 threads 10-40 % faster than choosing per element everywhere (E4M3 per tensor, MXFP8 per block),
# the same at 1 thread; a scan of the whole run for the few halved the speed (LLVM vectorized the scan with the
# rare branch computed for every element).

@nb.njit(inline="always", **_JIT)
def _minifloat_stochastic(b, R, j, floor, maxmag, sign, specials, sk, c0, c1, ties):
    """Code of float32 pattern b with floor index `floor` and grid-step bit j under the stochastic rule
    (sk, c0, c1, ties) of _stochastic_rule with the random bits R; specials as in _minifloat_code."""
    u = np.uint32(b & np.uint32(0x7FFFFFFF))
    neg = np.uint32(b >> np.uint32(31))
    mag = floor + np.uint32(_stochastic_spacing_up(b, j, R, sk, c0, c1, ties))
    return _minifloat_code(u, neg, mag, maxmag, sign, specials)


@nb.njit(inline="always", **_JIT)
def _minifloat_below(b, base, sh0):
    """(j, floor index) of float32 pattern b below the normal binades (exponent field < base)."""
    E = np.int64((b >> np.uint32(23)) & np.uint32(255))
    j = np.int64(sh0) + base - max(E, np.int64(1))
    M = np.int64(b & np.uint32(0x7FFFFF)) | (np.int64(E != 0) << 23)
    return j, np.uint32(M >> min(j, np.int64(31)))


STOCHASTIC_PIECE = 64  # elements per check for elements below the normal binades in _minifloat_stochastic_run


@nb.njit(inline="always", **_JIT)
def _minifloat_stochastic_run(bits, p0, p1, X, mbits, emin, maxmag, sign, codes, seed, rbits, nsr, sk, c0, c1, ties,
                              out):
    """out[k] = the stochastic code of element k for k in p0..p1 (one scale exponent X, minifloat_in_bounds), its
    bits drawn from (seed, k) or replayed from rbits: every STOCHASTIC_PIECE elements as normal ones, and again,
    each at its own j and floor, where some are not."""
    base, off, minnorm, sh0, _, _ = _minifloat_constants(X, mbits, emin)
    mx, sg = np.uint32(maxmag), np.uint32(sign)
    for q0 in range(p0, p1, STOCHASTIC_PIECE):
        q1 = min(p1, q0 + STOCHASTIC_PIECE)
        below = np.int64(0)  # an integer: a bool reduction kept LLVM from vectorizing the loop
        for k in range(np.uint64(q0), np.uint64(q1)):
            b = np.uint32(bits[k])
            u = np.uint32(b & np.uint32(0x7FFFFFFF))
            out[k] = _minifloat_stochastic(b, _draw_or_replay(seed, rbits, k, nsr), np.int64(sh0),
                                           np.uint32(np.uint32(u - off) >> sh0), mx, sg, codes, sk, c0, c1, ties)
            below |= np.int64(u < minnorm)
        if below:
            for k in range(np.uint64(q0), np.uint64(q1)):
                b = np.uint32(bits[k])
                u = np.uint32(b & np.uint32(0x7FFFFFFF))
                j, floor = _minifloat_below(b, base, sh0)
                normal = u >= minnorm
                out[k] = _minifloat_stochastic(b, _draw_or_replay(seed, rbits, k, nsr),
                                               np.int64(sh0) if normal else j,
                                               np.uint32(np.uint32(u - off) >> sh0) if normal else floor,
                                               mx, sg, codes, sk, c0, c1, ties)
