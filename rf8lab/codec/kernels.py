"""Numba kernels: the same decisions as reference.py, fast.

How each decision stays exact:
- Every input is read as a sign, an exponent e and a mantissa (float64 bits, or float32 bits; the
  16- and 8-bit types go through a table of their float32 bit patterns), and the group's scale X
  only shifts the exponent, so a = |x| / 2^X is never rounded.
- Nearest and floor: every threshold of every float format (its magnitudes and their midpoints)
  has at most 7 fraction bits within its binade, so (binade, top 7 mantissa bits, sticky bit of
  the rest) decides the answer. The tables indexed by that key are filled by the reference codec
  itself (`tables`), and the 7-bit property is asserted when they are built.
- Log (RF8): within a binade [2^e, 2^(e+1)) the paper's rule is a step function of the mantissa
  m with 7 irrational breakpoints (1 + 2^-4.5, ..., 2(1 - 2^-4.5)); m >= b iff m > the largest
  float64 below b, which is computed exactly once with integer square roots.
- Stochastic: lo from the floor table; (a - lo), (hi - lo) * bits and (a - lo) * 2^32 are exact in
  float64 (Sterbenz, few-bit grid values), so the comparison is the reference's.
- int8: k = the nearest integer to |x| / s, with the float64 quotient corrected by an exact
  residual (Dekker's product) whenever it is close to a decision point.
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

KEYBITS = 7  # mantissa bits in the table key, plus one sticky bit
KEYSHIFT = KEYBITS + 1  # bits of the key below the binade
ROUND = {"nearest": 0, "log": 1, "stochastic": 2}
OVER = {"saturate": 0, "nan": 1, "inf": 2}


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
    """Everything the element kernels read for one format (one argument, not sixteen), filled by the
    reference. Keys are (binade - emin) << KEYSHIFT | 7 mantissa bits << 1 | sticky."""
    near: np.ndarray    # int16 key -> rank of the nearest grid magnitude (n: overflow)
    flo: np.ndarray     # int16 key -> rank of the largest grid magnitude at or below
    ext: np.ndarray     # float64 grid magnitudes, then next_up (the overflow step)
    pos: np.ndarray     # uint8 code of each rank, positive
    neg: np.ndarray     # uint8 code of each rank, negative
    L: np.ndarray       # float64 log-rounding breakpoints (log_breakpoints)
    levels: np.ndarray  # float64 log-rounding levels
    emin: int           # binade of min_positive / 2: everything below rounds to 0
    emax: int           # binade of next_up: everything above overflows
    n: int              # number of magnitudes
    nan_pos: int        # NaN codes (positive, negative input)
    nan_neg: int
    inf_pos: int        # inf codes (0 without inf)
    inf_neg: int
    key_min: int        # key of min_positive
    key_max: int        # key of max


@lru_cache(maxsize=None)
def tables(name: str) -> Tables:
    """The kernels' tables for a format, filled by the reference."""
    fmt = get_format(name)
    grid = fmt.extended
    emin = floor_log2(fmt.min_positive) - 1  # binade of min/2; everything below rounds to 0
    emax = floor_log2(fmt.next_up)           # binade of next_up; everything above overflows
    for g in grid[1:] + tuple((a + b) / 2 for a, b in zip(grid, grid[1:])):
        # <= 6 bits: the 7-bit key of the tables decides, and so does the 16-bit round-to-odd key
        frac = g / Fraction(2) ** floor_log2(g) * (1 << (KEYBITS - 1))
        assert frac.denominator == 1, f"{name}: threshold {g} needs more than {KEYBITS - 1} fraction bits"
    nb_ = emax - emin + 1
    near = np.empty(nb_ << KEYSHIFT, np.int16)
    flo = np.empty_like(near)
    n = len(fmt.magnitudes)
    for b in range(nb_):
        base = Fraction(2) ** (emin + b)
        for m7 in range(1 << KEYBITS):
            for sticky in (0, 1):
                a = base * (1 + Fraction(2 * m7 + sticky, 1 << KEYSHIFT))
                r = reference.rank_nearest(a, fmt)
                near[(b << KEYSHIFT) | (m7 << 1) | sticky] = n if r == reference.OVERFLOW else r
                flo[(b << KEYSHIFT) | (m7 << 1) | sticky] = reference._bracket(a, grid)
    ext = np.array([float(g) for g in grid], np.float64)
    pos, neg = (np.array(c, np.uint8) for c in fmt.rank_codes)
    nan_p, nan_n, inf_p, inf_n = fmt.special_codes
    def key(g):  # table key of a grid magnitude (sticky 0); keys order like the magnitudes
        e = floor_log2(g)
        return ((e - emin) << KEYSHIFT) | (int((g / Fraction(2) ** e - 1) * (1 << KEYBITS)) << 1)

    L, levels = log_breakpoints()
    return Tables(near, flo, ext, pos, neg, L, levels, emin, emax, n, nan_p, nan_n, inf_p, inf_n,
                  key(fmt.min_positive), key(fmt.max))


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
def _special(neg, kind, over, T):
    """Code for NaN (kind 3) or inf (kind 2)."""
    if kind == 3:
        return T.nan_neg if neg else T.nan_pos
    if over == 0:
        return T.neg[T.n - 1] if neg else T.pos[T.n - 1]
    if over == 2:
        return T.inf_neg if neg else T.inf_pos
    return T.nan_neg if neg else T.nan_pos


@nb.njit(inline="always", **_JIT)
def _float_code(neg, kind, e, man, mbits, X, rnd, over, rbits, T):
    """Code of one float input (sign, kind, exponent, mantissa with `mbits` bits) at scale X."""
    if kind >= 2:
        return _special(neg, kind, over, T)
    n = T.n
    if kind == 0:
        return T.neg[0] if neg else T.pos[0]
    emin, emax = T.emin, T.emax
    er = e - X  # binade of a = |x| / 2^X
    sh = mbits - 7
    m7 = man >> sh
    sticky = 1 if (man & ((1 << sh) - 1)) != 0 else 0
    if rnd == 0:  # nearest
        if er < emin:
            r = 0
        elif er > emax:
            r = n
        else:
            r = T.near[((er - emin) << KEYSHIFT) | (m7 << 1) | sticky]
    elif rnd == 1:  # log (RF8)
        m = 1.0 + man / float(1 << mbits)
        c = 0
        for i in range(7):
            if m > T.L[i]:
                c += 1
        # the result levels[c] * 2^er as a table key; compare keys with those of min and max
        ev = er + (1 if c == 7 else 0)
        mv = 0 if c == 7 else np.int64(T.levels[c] * 128.0) - 128
        if ev < emin:
            r = 0
        elif ev > emax:
            r = n
        else:
            kv = ((ev - emin) << KEYSHIFT) | (mv << 1)
            r = 0 if kv < T.key_min else (n if kv > T.key_max else T.near[kv])
    else:  # stochastic
        if er > emax:
            r = n
        else:
            if er < emin:
                r = 0
            else:
                r = T.flo[((er - emin) << KEYSHIFT) | (m7 << 1) | sticky]
            if r < n:
                lo, hi = T.ext[r], T.ext[r + 1]
                if er < -1000:  # |a| underflows float64 but is > 0 = lo: up iff bits == 0
                    if rbits == 0:
                        r += 1
                else:
                    a = math.ldexp(1.0 + man / float(1 << mbits), er)
                    if a != lo and rbits * (hi - lo) < (a - lo) * 4294967296.0:
                        r += 1
    if r >= n:
        if over == 0:
            r = n - 1
        elif over == 2:
            return T.inf_neg if neg else T.inf_pos
        else:
            return T.nan_neg if neg else T.nan_pos
    return T.neg[r] if neg else T.pos[r]


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
def _int8_code(x, s, stochastic, rbits):
    """Two's complement code of x / s rounded to an integer, clamped to +-127: nearest (ties to
    even) or stochastic (up iff rbits / 2^32 < x / s - floor(x / s))."""
    if x != x:
        return 0
    a = abs(x)
    if s > 2.0 ** 900:  # keep Dekker's split (134217729 s) and 2a finite; a / s is unchanged
        a *= 2.0 ** -128
        s *= 2.0 ** -128
    if a == math.inf:
        k = 127
    else:
        q = a / s
        if q >= 128.0:
            k = 127
        else:
            k = np.int64(math.floor(q))
            if _sign_diff(a, float(k), s) < 0:
                k -= 1
            elif _sign_diff(a, float(k + 1), s) >= 0:
                k += 1
            # now k = floor(a / s) exactly
            if stochastic:
                # up iff rbits * s < (a - k s) 2^32, i.e. a 2^32 - (k 2^32 + rbits) s > 0, where
                # k 2^32 + rbits < 2^39 is an exact integer; scale the side that cannot overflow
                nk = float(k) * 4294967296.0 + float(rbits)
                if a < 2.0 ** 960:
                    up = _sign_diff(a * 4294967296.0, nk, s) > 0
                else:
                    up = _sign_diff(a, nk, s * 2.0 ** -32) > 0
            else:  # compare with k + 1/2: sign of 2a - (2k+1)s
                t = _sign_diff(2.0 * a, float(2 * k + 1), s)
                up = t > 0 or (t == 0 and k % 2 == 1)
            if up:
                k += 1
            if k > 127:
                k = 127
    if x < 0 and k > 0:
        return np.uint8(256 - k)
    return np.uint8(k)


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
def encode_float(bits, mbits, lut, gid_mode, shape3, block, X, rnd, over, rbits, T, out):
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
            out[t] = _float_code(neg, kind, e, man, mbits, X[g], rnd, over, rb, T)
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
def encode_int8(bits, mbits, lut, gid_mode, shape3, block, scale, stochastic, rbits, out):
    """int8 codes of float bit patterns (no NaN here: the API rejects it)."""
    n, inner = shape3[1], shape3[2]
    nblocks = (n + block - 1) // block
    use_lut = lut.size > 0
    for t in nb.prange(bits.size):
        o, j, i = _position(t, n, inner)
        g = _group(gid_mode, o, j, i, nblocks, block, inner)
        b = np.uint64(lut[np.int64(bits[t])]) if use_lut else np.uint64(bits[t])
        neg, kind, e, man = _split(b, mbits)
        v = math.inf if kind == 2 else (0.0 if kind == 0 else math.ldexp(1.0 + man / float(1 << mbits), e))
        rb = np.uint64(rbits[t]) if stochastic else np.uint64(0)
        out[t] = _int8_code(-v if neg else v, scale[g], stochastic, rb)
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
    return _float_code(neg, kind, e, man, 23, X, rnd, over, np.uint64(0), T)


@nb.njit(**_JIT)
def key16_table(X, rnd, over, T):
    """int16 code for every 16-bit key at scale X, or -1 where the key does not decide."""
    tab = np.empty(65536, np.int16)
    odd = rnd == 0
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
