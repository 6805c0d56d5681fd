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
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numba as nb
import numpy as np

from ..formats import floor_log2, get_format, largest_float_below
from . import reference, vectorized

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
    near = np.empty(nb_ << KEYSHIFT, np.int16)
    near_neg = np.empty_like(near)
    flo = np.empty_like(near)
    n = len(fmt.magnitudes)
    for b in range(nb_):
        base = Fraction(2) ** (emin + b)
        for m in range(1 << KEYBITS):
            for sticky in (0, 1):
                k = (b << KEYSHIFT) | (m << 1) | sticky
                a = base * (1 + Fraction(2 * m + sticky, 1 << KEYSHIFT))
                near[k] = _rank(a, fmt, det, False)
                near_neg[k] = _rank(a, fmt, det, True) if signed_rule else near[k]
                flo[k] = reference._bracket(a, grid)
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
    lo_k = lo * math.ldexp(1.0, k) + c
    if a < 2.0 ** 900:
        return _sign_diff(a * math.ldexp(1.0, k), lo_k, s)
    return _sign_diff(a, lo_k, s * math.ldexp(1.0, -k))


@nb.njit(inline="always", **_JIT)
def _stochastic_up(rnd, a, lo, hi, s, rbits, nsr):
    """vectorized._stochastic_up for one element: up from lo for a / s in (lo, hi); nsr < 0 is the
    exact-probability rule, else the number of random bits."""
    b = float(rbits)
    if nsr < 0:
        return _sign_at(a, 32, lo, b * (hi - lo), s) > 0
    n = math.ldexp(1.0, nsr)
    if rnd == 2:
        return _sign_at(a, nsr, lo, (n - b) * (hi - lo), s) >= 0
    t = _sign_at(a, nsr + 1, lo, (2.0 * n - 2.0 * b - 1.0) * (hi - lo), s)
    if rnd == 8:
        return t >= 0
    if t != 0:
        return t > 0
    m_odd = np.int64(n - b) % 2 == 1
    return m_odd if rnd == 10 else not m_odd


@nb.njit(inline="always", **_JIT)
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


@nb.njit(inline="always", **_JIT)
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


# ---- array kernels ----------------------------------------------------------------------------
# Element t of an (outer, n, inner) view is (o, j, i); its group is
#   gid_mode 0: 0 (tensor);  1: j (channel);  2: (o * nblocks + j // block) * inner + i (block).
# Kernels walk chunks of the flat array and carry (o, j, i) along instead of dividing per element.

@nb.njit(inline="always", **_JIT)
def _position(t, n, inner):
    return t // (n * inner), (t // inner) % n, t % inner


@nb.njit(inline="always", **_JIT)
def _group(gid_mode, o, j, i, nblocks, block, inner):
    if gid_mode == 0:
        return 0
    if gid_mode == 1:
        return j
    return (o * nblocks + j // block) * inner + i


@nb.njit(inline="always", **_JIT)
def _advance(o, j, i, n, inner):
    i += 1
    if i == inner:
        i = 0
        j += 1
        if j == n:
            j = 0
            o += 1
    return o, j, i


@nb.njit(parallel=True, **_JIT)
def encode_float(bits, mbits, lut, gid_mode, shape3, block, X, rnd, over, rbits, nsr, T, out):
    """Encode a flat array of float bit patterns (uint32 or uint64; through `lut` if it is non-empty)."""
    n, inner = shape3[1], shape3[2]
    total = bits.size
    nchunk = max(1, min(total // 65536, 4096))
    per = (total + nchunk - 1) // nchunk
    nblocks = (n + block - 1) // block
    use_lut = lut.size > 0
    has_r = rbits.size > 0
    for c in nb.prange(nchunk):
        t0 = c * per
        t1 = min(total, t0 + per)
        if t0 >= t1:
            continue
        o, j, i = _position(t0, n, inner)
        for t in range(t0, t1):
            g = _group(gid_mode, o, j, i, nblocks, block, inner)
            if use_lut:
                b = np.uint64(lut[np.int64(bits[t])])
            else:
                b = np.uint64(bits[t])
            neg, kind, e, man = _split(b, mbits)
            rb = np.uint64(rbits[t]) if has_r else np.uint64(0)
            out[t] = _float_code(neg, kind, e, man, mbits, X[g], rnd, over, rb, nsr, T)
            o, j, i = _advance(o, j, i, n, inner)
    return out


@nb.njit(inline="always", **_JIT)
def _abs_pattern(bits, t, lut, mask, inf_bits):
    """Bit pattern of |x| for element t (monotone in |x|), or 0 for NaN and inf."""
    b = (np.uint64(lut[np.int64(bits[t])]) if lut.size > 0 else np.uint64(bits[t])) & mask
    return b if b < inf_bits else np.uint64(0)


@nb.njit(parallel=True, **_JIT)
def group_max_abs_bits(bits, lut, mask, inf_bits, gid_mode, shape3, block, ngroups):
    """Each group's largest finite |x| as a bit pattern (0 if none). Channel (gid_mode 1) and block (2)
    layouts; each parallel task owns its groups, so there are no races and no partial arrays."""
    outer, n, inner = shape3[0], shape3[1], shape3[2]
    best = np.zeros(ngroups, np.uint64)
    if gid_mode == 1:
        for j in nb.prange(n):
            m = np.uint64(0)
            for o in range(outer):
                for i in range(inner):
                    v = _abs_pattern(bits, (o * n + j) * inner + i, lut, mask, inf_bits)
                    if v > m:
                        m = v
            best[j] = m
    else:
        nblocks = (n + block - 1) // block
        for ob in nb.prange(outer * nblocks):
            jb = ob % nblocks
            o = ob // nblocks
            for j in range(jb * block, min(n, (jb + 1) * block)):
                for i in range(inner):
                    v = _abs_pattern(bits, (o * n + j) * inner + i, lut, mask, inf_bits)
                    if v > best[ob * inner + i]:
                        best[ob * inner + i] = v
    return best


@nb.njit(parallel=True, **_JIT)
def encode_mult(bits, mbits, lut, gid_mode, shape3, block, scale, rnd, over, rbits, nsr, T, out):
    """Codes of float bit patterns under a float multiplier per group (integers, NVFP4)."""
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    use_lut = lut.size > 0
    has_r = rbits.size > 0
    for t in nb.prange(bits.size):
        o, j, i = _position(t, n, inner)
        g = _group(gid_mode, o, j, i, nblocks, block, inner)
        b = np.uint64(lut[np.int64(bits[t])]) if use_lut else np.uint64(bits[t])
        neg, kind, e, man = _split(b, mbits)
        v = 0.0 if kind != 1 else math.ldexp(1.0 + man / float(1 << mbits), e)
        rb = np.uint64(rbits[t]) if has_r else np.uint64(0)
        out[t] = _mult_code(neg, kind, v, scale[g], rnd, over, rb, nsr, T)
    return out


@nb.njit(parallel=True, **_JIT)
def decode_codes(codes, gid_mode, shape3, block, group_values, vt, X, mult, use_mult, out):
    """out[t] = value of codes[t] in its group: group_values[group, code] when a table per group is given
    (few groups), else vt[code] * 2^X[group] (ldexp, one rounding) or vt[code] * mult[group] (int8)."""
    n, inner = shape3[1], shape3[2]
    total = codes.size
    nchunk = max(1, min(total // 65536, 4096))
    per = (total + nchunk - 1) // nchunk
    nblocks = (n + block - 1) // block
    use_tables = group_values.shape[0] > 0
    for c in nb.prange(nchunk):
        t0 = c * per
        t1 = min(total, t0 + per)
        if t0 >= t1:
            continue
        if gid_mode == 0 and use_tables:  # the common case: one table, a plain gather
            tab = group_values[0]
            for t in range(t0, t1):
                out[t] = tab[codes[t]]
            continue
        o, j, i = _position(t0, n, inner)
        for t in range(t0, t1):
            g = _group(gid_mode, o, j, i, nblocks, block, inner)
            if use_tables:
                out[t] = group_values[g, codes[t]]
            else:
                v = vt[codes[t]]
                out[t] = v * mult[g] if use_mult else math.ldexp(v, X[g])
            o, j, i = _advance(o, j, i, n, inner)
    return out


# ---- fast path: one scale, nearest or log, inputs with float32 bit patterns ----------------------
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


@nb.njit(parallel=True, **_JIT)
def lookup_refined(bits, lut, tab, sub, vals, X, rnd, over, T, out):
    """out[t] = vals[code of element t]: 16-bit key, then 8 more bits where that does not decide,
    then the exact element kernel (about 1 element in 5000 for log rounding of typical weights)."""
    for t in nb.prange(bits.size):
        b, k = _key16(bits, t, lut, False)
        c = np.int64(tab[k])
        if c < 0:
            c = np.int64(sub[(-c - 2) * 256 + np.int64((b >> np.uint32(8)) & np.uint32(255))])
            if c < 0:
                c = _code32(np.uint64(b), X, rnd, over, T)
        out[t] = vals[c]
    return out


@nb.njit(inline="always", **_JIT)
def _key16(bits, t, lut, odd):
    """(float32 pattern, 16-bit key) of element t: round-to-odd key if `odd`, else truncated."""
    b = lut[np.int64(bits[t])] if lut.size > 0 else np.uint32(bits[t])
    k = b >> np.uint32(16)
    if odd:
        k |= np.uint32((b & np.uint32(0xFFFF)) != 0)
    return b, k


@nb.njit(parallel=True, **_JIT)
def lookup(bits, lut, odd, tab, out):
    """out[t] = tab[key of element t]: a plain gather (codes, or their values for quantize in one
    pass). Entries the key does not decide are filled afterwards by `fill_undecided`."""
    for t in nb.prange(bits.size):
        out[t] = tab[_key16(bits, t, lut, odd)[1]]
    return out


@nb.njit(parallel=True, **_JIT)
def fill_undecided(bits, lut, odd, undecided, X, rnd, over, T,
                   vals, out):
    """Second pass for the elements whose key does not decide: round them exactly (_float_code).
    A separate pass keeps `lookup` a tight, vectorizable loop."""
    use_vals = vals.size > 0
    for t in nb.prange(bits.size):
        b, k = _key16(bits, t, lut, odd)
        if undecided[k]:
            c = _code32(np.uint64(b), X, rnd, over, T)
            if use_vals:
                out[t] = vals[c]
            else:
                out[t] = c
    return out


@nb.njit(parallel=True, **_JIT)
def max_abs_bits(bits, lut, mask, inf_bits):
    """Largest |x| bit pattern below inf (finite values only); 0 if none. Bits of |x| are monotone."""
    nchunk = max(1, min(bits.size // 65536, 256))
    per = (bits.size + nchunk - 1) // nchunk
    part = np.zeros(nchunk, np.uint64)
    use_lut = lut.size > 0
    for c in nb.prange(nchunk):
        best = np.uint64(0)
        for t in range(c * per, min(bits.size, (c + 1) * per)):
            b = np.uint64(lut[np.int64(bits[t])]) if use_lut else np.uint64(bits[t])
            b &= mask
            if b < inf_bits and b > best:
                best = b
        part[c] = best
    return part.max()
