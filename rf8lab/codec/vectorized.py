"""The codec's element rules as vectorized array code, written once for numpy arrays and torch tensors
(on any device): the torch codec, and the oracle of the exhaustive float32 check.

It decides from the reference's exact thresholds, never from the Numba kernels' key tables, so a wrong
table cannot be confirmed by a copy of itself:
- nearest: binary search on the format's grid (extended by next_up), then 2a against lo + hi, both exact
  (a is the scaled magnitude, exact wherever it can matter; grid neighbours have few bits);
- log (RF8): the paper's rule e1 = lead(a), r = a - 2^e1 (exact), e2 = lead(|r|), where lead's test
  m^2 > 2 on the mantissa is m > the largest float64 below sqrt 2, found with exact rationals (as
  reference.lead compares a^2 with 2^(2n+1)); no Dekker product, so torch.compile keeps it exact;
- stochastic: up from the grid value below iff bits * (hi - lo) < (a - lo) * 2^32, exact in float64;
- int8: |x| / s rounded to an integer with the sign of x - k*s decided exactly (Dekker's product).
Inputs are float64 (exact for every float16, bfloat16 and float32 value); X is each element's scale
exponent (rf8lab/codec/scale_rule.py). `reference.py` is the oracle for all of it (tests/test_vectorized.py).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..formats import Format, floor_log2, get_format
from ..policies import Overflow, Rounding, ScaleRule
from . import reference
from .scale_rule import SQRT2_BELOW, group_scales, split
from .xp import ops


def two_prod(a, b):
    """a * b = p + err exactly (Dekker / Veltkamp, no fma; |a|, |b| < 2^996 so the split stays finite).
    Plain arithmetic: works on floats, numpy arrays and torch tensors, and the Numba kernels compile
    this very function (their cache does not see edits here: see kernels._two_prod)."""
    p = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def sign_diff(x, k, s):
    """Sign of x - k*s exactly (x, s > 0 floats, k a small integer), as -1.0, 0.0 or 1.0."""
    xp = ops(x)
    p, err = two_prod(k, s)
    d = x - p
    t = d - err  # d is exact where it is small (Sterbenz: x and p are close); one rounding keeps the sign
    sure = xp.abs(d) > xp.abs(err) * 4
    return xp.where(sure, xp.sign(d), xp.sign(t))


class Grid(NamedTuple):
    """A format's magnitudes and codes as arrays of one library (and device)."""
    ext: object         # float64: the magnitudes, then next_up (one step past max: overflow)
    n: int              # number of magnitudes
    pos_codes: object   # int64 code of each rank, for positive and for negative input
    neg_codes: object
    min_positive: float
    max: float
    nan_pos: int
    nan_neg: int
    inf_pos: int
    inf_neg: int
    values: object      # float64 value of each of the 256 codes at X = 0 (NaN, +-inf where they exist)


@lru_cache(maxsize=None)
def _numpy_grid(name: str) -> Grid:
    f = get_format(name)
    pos, neg = (np.array(c, np.int64) for c in f.rank_codes)
    return Grid(np.array([float(m) for m in f.extended]), len(f.magnitudes), pos, neg,
                float(f.min_positive), float(f.max), *f.special_codes, np.array(f.values, np.float64))


_DEVICE_GRIDS: dict = {}


def grid(fmt: Format, like) -> Grid:
    """fmt's grid in the library (and on the device) of the array `like`; tensors are made once per
    format and device, under string keys, so torch.compile sees constants."""
    g = _numpy_grid(fmt.name)
    if isinstance(like, np.ndarray):
        return g
    key = (fmt.name, str(like.device))
    if key not in _DEVICE_GRIDS:
        xp = ops(like)
        _DEVICE_GRIDS[key] = g._replace(**{f: xp.asarray(getattr(g, f), like)
                                           for f in ("ext", "pos_codes", "neg_codes", "values")})
    return _DEVICE_GRIDS[key]


def scaled(a, X):
    """a * 2^-X for float64 a > 0, exact whenever the result is a normal float64; smaller results are
    far below every format's smallest magnitude, larger ones overflow, so no decision depends on them."""
    xp = ops(a)
    e, _, m = split(a)
    return xp.ldexp(m, xp.clip(e - X, -1100, 1100)), e - X


def _lead(a, xp):
    """n with 2^(n-1/2) <= a < 2^(n+1/2) for finite a > 0: the exponent of a, plus one iff its
    mantissa m in [1, 2) has m^2 > 2, i.e. m > the largest float64 below sqrt 2 (found exactly)."""
    e, _, m = split(a)
    return e + xp.astype(m > SQRT2_BELOW, xp.int64)


def log_magnitude(a):
    """RF8's log rounding of finite a >= 0 with unbounded exponents: 2^e1, plus sign(r) * 2^e2 when
    r = a - 2^e1 is nonzero and e1 - e2 <= 4 (reference.round_log)."""
    xp = ops(a)
    pos = a > 0
    a1 = xp.where(pos, a, 1.0)
    e1 = _lead(a1, xp)
    lead = xp.exp2(e1)
    r = a1 - lead  # exact: a1 lies within a factor sqrt 2 of 2^e1 (Sterbenz)
    nz = r != 0
    e2 = _lead(xp.where(nz, xp.abs(r), 1.0), xp)
    keep = nz & (e1 - e2 <= 4)
    v = lead + xp.where(keep, xp.sign(r) * xp.exp2(e2), 0.0)
    return xp.where(pos, v, 0.0)


def ranks(a, er, g: Grid, rounding: str, bits=None):
    """Rank of each scaled magnitude a >= 0 (finite; er its binade) on the grid, n for overflow."""
    xp = ops(a)
    top = g.ext[g.n]
    a = xp.clip(a, 0.0, 2 * top)  # beyond 2 * next_up every rule overflows; keeps 2a finite
    i = xp.clip(xp.searchsorted_right(g.ext, a) - 1, 0, g.n)
    j = xp.clip(i + 1, 0, g.n)
    lo, hi = g.ext[i], g.ext[j]
    if rounding == Rounding.NEAREST:
        twice, mid = 2 * a, lo + hi
        up = (twice > mid) | ((twice == mid) & (i % 2 == 1))
        return xp.where(i >= g.n, g.n, xp.where(up & (a != lo), j, i))
    if rounding == Rounding.STOCHASTIC:
        up = xp.where(er < -1000, bits == 0,  # a underflowed float64 but is > 0 = lo: up iff bits == 0
                      (a != lo) & (xp.astype(bits, xp.float64) * (hi - lo) < (a - lo) * 4294967296.0))
        return xp.where(i >= g.n, g.n, i + xp.astype(up, xp.int64))
    if rounding == Rounding.LOG:
        v = log_magnitude(a)
        k = xp.clip(xp.searchsorted_right(g.ext, v) - 1, 0, g.n)
        return xp.where(v < g.min_positive, 0, xp.where(v > g.max, g.n, k))
    raise ValueError(f"unknown rounding {rounding!r}")


def float_codes(x, X, fmt: Format, rounding: str, overflow: str, bits=None):
    """Codes (uint8) of flat float64 x at per-element scale exponents X (int64): the element rule of
    reference.encode_element, vectorized. bits: int64 random bits in [0, 2^32) for stochastic rounding."""
    xp = ops(x)
    g = grid(fmt, x)
    neg = xp.signbit(x)
    a = xp.abs(x)
    finite = xp.isfinite(a) & (a > 0)
    a_s, er = scaled(xp.where(finite, a, 1.0), X)
    r = xp.where(finite, ranks(a_s, er, g, rounding, bits), 0)
    r = xp.where(xp.isinf(a), g.n, r)  # an infinity overflows
    rs = xp.clip(r, 0, g.n - 1)
    code = xp.where(neg, g.neg_codes[rs], g.pos_codes[rs])  # saturated
    if overflow != Overflow.SATURATE:
        up_p, up_n = (g.inf_pos, g.inf_neg) if overflow == Overflow.INF else (g.nan_pos, g.nan_neg)
        code = xp.where(r >= g.n, xp.where(neg, up_n, up_p), code)
    code = xp.where(xp.isnan(x), xp.where(neg, g.nan_neg, g.nan_pos), code)
    return xp.astype(code, xp.uint8)


def int8_codes(x, s, stochastic: bool, bits=None):
    """Two's complement codes (uint8) of flat float64 x / s rounded to an integer and clamped to
    +-127: nearest (ties to even) or stochastic (up iff bits / 2^32 < x / s - floor(x / s))."""
    xp = ops(x)
    a = xp.abs(x)
    # the exact comparisons need Dekker's split (134217729 s) and 2a finite: where s is huge, scale a
    # and s by the same power of two (a / s, and every decision, unchanged)
    huge = s > 2.0 ** 900
    a, s = xp.where(huge, a * 2.0 ** -128, a), xp.where(huge, s * 2.0 ** -128, s)
    big = xp.isinf(a) | (a / s >= 128.0)
    q = xp.where(big | xp.isnan(a), 0.0, a / s)
    k = xp.floor(q)
    k = xp.where(sign_diff(a, k, s) < 0, k - 1, k)
    k = xp.where(sign_diff(a, k + 1, s) >= 0, k + 1, k)  # now k = floor(a / s) exactly
    if stochastic:
        # up iff bits * s < (a - k s) 2^32, i.e. a 2^32 - (k 2^32 + bits) s > 0, where k 2^32 + bits
        # < 2^39 is an exact integer; scale the side that cannot overflow
        nk = k * 4294967296.0 + xp.astype(bits, xp.float64)
        small = a < 2.0 ** 960
        up = xp.where(small, sign_diff(xp.where(small, a, 0.0) * 4294967296.0, nk, s) > 0,
                      sign_diff(a, nk, s * 2.0 ** -32) > 0)
    else:  # compare with k + 1/2: the sign of 2a - (2k + 1) s
        t = sign_diff(2.0 * a, 2 * k + 1, s)
        up = (t > 0) | ((t == 0) & (k % 2 == 1))
    k = xp.clip(k + xp.astype(up, xp.float64), 0.0, 127.0)
    k = xp.astype(xp.where(big, 127.0, xp.where(xp.isnan(x), 0.0, k)), xp.int64)
    return xp.astype(xp.where((x < 0) & (k > 0), 256 - k, k), xp.uint8)


# ---- whole arrays: the torch codec, and rf8lab's backend="vectorized" -----------------------------
def group_amax(a, gid, ngroups: int):
    """Each group's largest finite magnitude of flat float64 a = |x| (-1 where there is none);
    gid: each element's group (int64), or None for one group."""
    xp = ops(a)
    if a.shape[0] == 0:
        return xp.asarray(np.full(ngroups, -1.0), a)
    v = xp.where(xp.isfinite(a), a, -1.0)
    return v.max().reshape(1) if gid is None else xp.group_max(v, gid, ngroups)


def encode_flat(x, fmt: Format, layout, rounding: str, overflow: str, bits=None, gid=None):
    """(codes uint8, X int64, multiplier float64) per group for flat float64 x: the scale rule, then the
    element rule. gid: each element's group (int64), or None when there is one group."""
    xp = ops(x)
    ngroups = int(np.prod(layout.scale_shape, dtype=np.int64))  # 1 for one scale, 0 for an empty axis
    if layout.granularity is None:
        amax = xp.asarray(np.full(ngroups, -1.0), x)
    else:
        amax = group_amax(xp.abs(x), gid, ngroups)
    X, mult = group_scales(fmt, amax, layout.granularity)

    def each(v):  # the group's value at every element
        return v[gid] if gid is not None else xp.broadcast_to(v, tuple(x.shape))

    if fmt.scale_rule == ScaleRule.ABSMAX:
        codes = int8_codes(x, each(mult), rounding == Rounding.STOCHASTIC, bits)
    else:
        codes = float_codes(x, each(X), fmt, rounding, overflow, bits)
    return codes, X, mult


def decode_flat(codes, fmt: Format, X, mult, gid, dtype):
    """Values of flat uint8 codes times their group's scale (2^X exactly, or int8's multiplier), rounded
    once to dtype: through one 256-entry table per group when that is smaller than the input."""
    xp = ops(codes)
    vt = grid(fmt, codes).values
    c = xp.astype(codes, xp.int64)
    ngroups = X.shape[0]
    if gid is None or ngroups * 256 <= c.shape[0]:
        if fmt.scale_rule == ScaleRule.ABSMAX:
            tables = vt[None, :] * mult[:, None]
        else:
            tables = xp.ldexp(vt[None, :], X[:, None])
        tables = xp.narrow(tables, dtype).reshape(-1)
        return tables[c if gid is None else gid * 256 + c]
    v = vt[c]
    return xp.narrow(v * mult[gid] if fmt.scale_rule == ScaleRule.ABSMAX else xp.ldexp(v, X[gid]), dtype)


def saturate_output(values, codes, fmt: Format, X, mult, top: float):
    """Under overflow="saturate", values whose code and scale are finite but beyond the output dtype's range
    (largest finite value `top`) become +-top, never inf: the element saturates, and so does its conversion
    to the output. Codes that mean +-inf keep it. A no-op (no pass over the values) when no group can reach
    past `top`."""
    if fmt.scale_rule == ScaleRule.ABSMAX:
        if X.shape[0] == 0 or float(mult.max()) * 128.0 < top:
            return values
    elif X.shape[0] == 0 or int(X.max()) + floor_log2(fmt.next_up) + 1 <= math.frexp(top)[1] - 1:
        return values
    xp = ops(values)
    over = xp.isinf(values)
    if fmt.has_inf and codes is not None:
        _, _, inf_p, inf_n = fmt.special_codes
        over = over & (codes != inf_p) & (codes != inf_n)
    return xp.where(over, xp.copysign(xp.full_like(values, top), values), values)


def encode(x: np.ndarray, fmt: Format, layout, rounding: str, overflow: str, random_bits=None):
    """rf8lab's backend="vectorized" (numpy): codes, scale exponents and multipliers, as fast.encode."""
    if reference.inexact_in_float64(x):
        return reference.encode(x, fmt, layout, rounding, overflow, random_bits)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf inputs are handled, not warned about
        flat = np.asarray(x).reshape(-1).astype(np.float64)
        gid = None if layout.granularity in (None, "tensor") else layout.group_ids().reshape(-1)
        bits = None if random_bits is None else np.asarray(random_bits).reshape(-1).astype(np.int64)
        codes, X, mult = encode_flat(flat, fmt, layout, rounding, overflow, bits, gid)
    shape = layout.scale_shape
    return codes.reshape(x.shape), X.astype(np.int32).reshape(shape), mult.reshape(shape)


def decode(codes: np.ndarray, fmt: Format, layout, scale_exp: np.ndarray, scale: np.ndarray, dtype) -> np.ndarray:
    """rf8lab's backend="vectorized" (numpy): values rounded once to dtype, as fast.decode."""
    gid = None if layout.granularity in (None, "tensor") else layout.group_ids().reshape(-1)
    X = np.asarray(scale_exp, np.int64).reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        out = decode_flat(np.asarray(codes).reshape(-1), fmt, X, np.asarray(scale, np.float64).reshape(-1), gid,
                          np.dtype(dtype))
    return out.reshape(np.shape(codes))
