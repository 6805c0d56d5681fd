"""The codec's element rules as vectorized array code, written once for numpy arrays and torch tensors
(on any device): the torch codec, and the oracle of the exhaustive float32 check.

It decides from the reference's exact thresholds, never from the Numba kernels' key tables, so a wrong
table cannot be confirmed by a copy of itself:
- every rounding onto the value set (nearest, nearest-away, toward zero/+inf/-inf, to odd): binary search on
  the format's grid (extended by next_up), then a against lo and 2a against lo + hi, both exact (a is the
  scaled magnitude, exact wherever it can matter; grid neighbours have few bits);
- log (RF8): the paper's rule e1 = lead(a), r = a - 2^e1 (exact), e2 = lead(|r|), where lead's test
  m^2 > 2 on the mantissa is m > the largest float64 below sqrt 2, found with exact rationals (as
  reference.lead compares a^2 with 2^(2n+1)); no Dekker product, so torch.compile keeps it exact;
- stochastic: one exact comparison of a 2^K with lo 2^K + c (hi - lo), c made of the random bits;
- float multipliers (integers, NVFP4): |x| / s guessed in float64, every comparison with g s decided
  exactly by the sign of x - g s (Dekker's product).
Inputs are float64 (exact for every float16, bfloat16 and float32 value); X is each element's scale
exponent (rf8lab/codec/scale_rule.py). `reference.py` is the oracle for all of it (tests/test_vectorized.py).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..formats import Format, floor_log2, get_format
from ..policies import STOCHASTIC_ROUNDINGS, Overflow, Rounding
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


# Stochastic rounding's random bits, drawn from (seed, element index) alone, so that every backend, thread
# count and chunking gives the same bits: SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom
# number generators", OOPSLA 2014; Vigna's reference splitmix64.c), output i of seed k is
# mix64(k + (i + 1) * GAMMA). The top 32 bits (or sr_bits bits) are element i's draw.
GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _ONE = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(1)


def draw_bits(seed, index, nbits):
    """Element index's random draw: the top `nbits` bits (1..32) of SplitMix64 output index + 1 of
    `seed`, as uint64. Plain uint64 arithmetic (it wraps): numpy arrays here, scalars in the Numba
    kernels, which compile this very function (edit it, then touch kernels.py: see kernels._draw_bits)."""
    z = seed + (index + _ONE) * GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return z >> np.uint64(64 - nbits)


def random_bits(seed: int, shape, sr_bits: int | None = None) -> np.ndarray:
    """The uint32 random bits stochastic rounding draws for an array of this shape from `seed` (an
    integer in [0, 2^64)): `random_bits=random_bits(seed, shape)` replays `rng=seed` exactly."""
    if not 0 <= int(seed) < 2 ** 64:
        raise ValueError(f"seed must be an integer in [0, 2^64); got {seed}")
    if sr_bits is not None and not 1 <= sr_bits <= 32:
        raise ValueError(f"sr_bits must be an integer from 1 to 32; got {sr_bits}")
    index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64)
    bits = draw_bits(np.uint64(seed), index, 32 if sr_bits is None else sr_bits)
    return bits.astype(np.uint32).reshape(shape)


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


def _stochastic_up(rounding: str, a, lo, hi, s, bits, sr_bits):
    """Whether stochastic rounding of a / s goes up from lo (rf8lab.policies.Rounding): each rule is one
    exact comparison a 2^K against (lo 2^K + c (hi - lo)) s, where c is a small integer made of the
    random bits, so lo 2^K + c (hi - lo) is exact (few-bit grid values) and sign_diff decides exactly."""
    xp = ops(a)
    b = xp.astype(bits, xp.float64)
    if sr_bits is None:  # bits / 2^32 < f: bits (hi - lo) s < (a - lo s) 2^32
        return _sign_at(a, 32, lo, b * (hi - lo), s) > 0
    n = float(2 ** sr_bits)
    if rounding == Rounding.STOCHASTIC:  # f 2^N + R >= 2^N: a 2^N >= (lo 2^N + (2^N - R)(hi - lo)) s
        return _sign_at(a, sr_bits, lo, (n - b) * (hi - lo), s) >= 0
    # the rest compare f 2^(N+1) with an odd integer: 2^(N+1) - 2R - 1
    t = _sign_at(a, sr_bits + 1, lo, (2 * n - 2 * b - 1) * (hi - lo), s)
    if rounding == Rounding.STOCHASTIC_FAST:
        return t >= 0
    m_odd = (n - b) % 2 == 1  # M = 2^N - R; f 2^N rounds to M or more iff t > 0, or t = 0 and the tie goes up
    return (t > 0) | ((t == 0) & (m_odd if rounding == Rounding.STOCHASTIC_ODD else ~m_odd))


def _sign_at(a, k: int, lo, c, s):
    """Sign of a 2^k - (lo 2^k + c) s, exactly; the side that cannot overflow is scaled."""
    xp = ops(a)
    lo_k = lo * float(2 ** k) + c
    if s is None:
        return _sign(a * float(2 ** k), lo_k, None)
    small = a < 2.0 ** 900
    return xp.where(small, sign_diff(xp.where(small, a, 0.0) * float(2 ** k), lo_k, s),
                    sign_diff(a, lo_k, s * 2.0 ** -k))


def _sign(x, k, s):
    """Sign of x - k s exactly: a plain subtraction when s is None (s = 1; the sign of a rounded
    difference is exact), else Dekker's product."""
    return ops(x).sign(x - k) if s is None else sign_diff(x, k, s)


def grid_ranks(a, s, neg, g: Grid, rounding: str, bits=None, sr_bits=None, tiny=None):
    """Rank of each a / s (a >= 0 finite; s None: a is a scaled magnitude, exact; else s > 0 is the
    group's float multiplier) on the grid, under any rounding onto the value set; g.n where it lies
    beyond max. With s, the float quotient only guesses the neighbours and exact comparisons (sign_diff)
    settle them. `tiny`: where a underflowed float64 while the value is positive (far below every grid
    value)."""
    xp = ops(a)
    top = g.ext[g.n]
    q = xp.clip(a if s is None else a / s, 0.0, 2 * top)
    i = xp.clip(xp.searchsorted_right(g.ext, q) - 1, 0, g.n)
    if s is not None:
        i = xp.where((i > 0) & (sign_diff(a, g.ext[i], s) < 0), i - 1, i)
        i = xp.where((i < g.n) & (sign_diff(a, g.ext[xp.clip(i + 1, 0, g.n)], s) >= 0), i + 1, i)
    over = i >= g.n
    i = xp.clip(i, 0, g.n - 1)
    lo, hi = g.ext[i], g.ext[i + 1]
    a = xp.where(over, lo if s is None else lo * s, a)  # beyond max the decisions below are unused: keep them finite
    inexact = _sign(a, lo, s) != 0
    if tiny is not None:
        inexact = inexact | tiny
    if rounding in (Rounding.NEAREST, Rounding.NEAREST_AWAY):
        mid = _sign(2 * a, lo + hi, s)
        if tiny is not None:
            mid = xp.where(tiny, -1.0, mid)
        up = (mid > 0) | ((mid == 0) & ((i % 2 == 1) if rounding == Rounding.NEAREST else True))
    elif rounding == Rounding.TOWARD_ZERO:
        up = xp.zeros_like(inexact)
    elif rounding == Rounding.TOWARD_POSITIVE:
        up = ~neg
    elif rounding == Rounding.TOWARD_NEGATIVE:
        up = neg
    elif rounding == Rounding.TO_ODD:
        up = i % 2 == 0
    elif rounding in STOCHASTIC_ROUNDINGS:
        up = _stochastic_up(rounding, a, lo, hi, s, bits, sr_bits)
        if tiny is not None:  # the fraction is below 2^-900: only the exact-probability rule, at bits 0
            up = xp.where(tiny, (bits == 0) if sr_bits is None else xp.zeros_like(inexact), up)
    else:
        raise ValueError(f"unknown rounding {rounding!r}")
    return xp.where(over, g.n, i + xp.astype(up & inexact, xp.int64))


def log_ranks(a, g: Grid):
    """Rank of RF8's log rounding of each scaled magnitude a >= 0 (finite); g.n beyond max."""
    xp = ops(a)
    a = xp.clip(a, 0.0, 2 * g.ext[g.n])  # beyond 2 * next_up the rule overflows
    v = log_magnitude(a)
    k = xp.clip(xp.searchsorted_right(g.ext, v) - 1, 0, g.n)
    return xp.where(v < g.min_positive, 0, xp.where(v > g.max, g.n, k))


def element_codes(x, X, s, fmt: Format, rounding: str, overflow: str, bits=None, sr_bits=None):
    """Codes (uint8) of flat float64 x: the element rule of reference.encode_element, vectorized. Power-of-
    two scales: X (int64) per element and s None; float multipliers (integers, NVFP4): s per element
    (> 0). bits: int64 random bits for stochastic rounding."""
    xp = ops(x)
    overflow = Overflow(overflow)  # rf8lab 0.1's names too
    g = grid(fmt, x)
    neg = xp.signbit(x)
    a = xp.abs(x)
    finite = xp.isfinite(a) & (a > 0)
    if s is None:
        a_s, er = scaled(xp.where(finite, a, 1.0), X)
        s_e, tiny = None, er < -1000  # tiny: a / 2^X underflowed float64
    else:
        a_s, s_e = xp.where(finite, a, 1.0), xp.where(finite, s, 1.0)
        # Dekker's products must stay exact: scale a and s alike (a / s unchanged) where s is huge (134217729 s
        # and 2a finite) or tiny (no product underflows); an a that then underflows is far below every
        # grid value times s
        huge, small = s_e > 2.0 ** 900, s_e < 2.0 ** -900
        a_s = xp.where(huge, a_s * 2.0 ** -128, xp.where(small, a_s * 2.0 ** 128, a_s))
        s_e = xp.where(huge, s_e * 2.0 ** -128, xp.where(small, s_e * 2.0 ** 128, s_e))
        tiny = a_s == 0
    if rounding == Rounding.LOG:
        r = log_ranks(a_s, g)
    else:
        r = grid_ranks(a_s, s_e, neg, g, rounding, bits, sr_bits, tiny)
    r = xp.where(finite, r, 0)
    r = xp.where(xp.isinf(a), g.n, r)  # an infinity overflows
    rs = xp.clip(r, 0, g.n - 1)
    code = xp.where(neg, g.neg_codes[rs], g.pos_codes[rs])  # saturated
    clamp = _toward_range(rounding, neg, xp) & ~xp.isinf(a)
    if overflow == Overflow.SAT_PROPAGATE:
        code = xp.where(xp.isinf(a), xp.where(neg, g.inf_neg, g.inf_pos), code)
    elif overflow != Overflow.SAT_FINITE:
        up_p, up_n = (g.inf_pos, g.inf_neg) if overflow == Overflow.OVF_INF else (g.nan_pos, g.nan_neg)
        code = xp.where((r >= g.n) & ~clamp, xp.where(neg, up_n, up_p), code)
    if not fmt.signed:  # negative values are out of range: 0 when saturating, else NaN
        out = neg & (a > 0)
        code = xp.where(out, g.pos_codes[0] if overflow == Overflow.SAT_FINITE else g.nan_pos, code)
    if fmt.has_nan:
        code = xp.where(xp.isnan(x), xp.where(neg, g.nan_neg, g.nan_pos), code)
    return xp.astype(code, xp.uint8)


def _toward_range(rounding: str, neg, xp):
    """Where a directed rounding rounds toward the finite range (reference.toward_range)."""
    if rounding == Rounding.TOWARD_ZERO:
        return xp.full_like(neg, True)
    if rounding == Rounding.TOWARD_NEGATIVE:
        return ~neg
    if rounding == Rounding.TOWARD_POSITIVE:
        return neg
    return xp.full_like(neg, False)


# ---- whole arrays: the torch codec, and rf8lab's backend="vectorized" -----------------------------
def group_amax(a, gid, ngroups: int):
    """Each group's largest finite magnitude of flat float64 a = |x| (-1 where there is none);
    gid: each element's group (int64), or None for one group."""
    xp = ops(a)
    if a.shape[0] == 0:
        return xp.asarray(np.full(ngroups, -1.0), a)
    v = xp.where(xp.isfinite(a), a, -1.0)
    return v.max().reshape(1) if gid is None else xp.group_max(v, gid, ngroups)


def encode_flat(x, fmt: Format, layout, rounding: str, overflow: str, bits=None, gid=None, sr_bits=None):
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

    if fmt.float_scale:
        codes = element_codes(x, None, each(mult), fmt, rounding, overflow, bits, sr_bits)
    else:
        codes = element_codes(x, each(X), None, fmt, rounding, overflow, bits, sr_bits)
    return codes, X, mult


def decode_flat(codes, fmt: Format, X, mult, gid, dtype):
    """Values of flat uint8 codes times their group's scale (2^X exactly, or int8's multiplier), rounded
    once to dtype: through one 256-entry table per group when that is smaller than the input."""
    xp = ops(codes)
    vt = grid(fmt, codes).values
    c = xp.astype(codes, xp.int64)
    ngroups = X.shape[0]
    if gid is None or ngroups * 256 <= c.shape[0]:
        if fmt.float_scale:
            tables = vt[None, :] * mult[:, None]
        else:
            tables = xp.ldexp(vt[None, :], X[:, None])
        tables = xp.narrow(tables, dtype).reshape(-1)
        return tables[c if gid is None else gid * 256 + c]
    v = vt[c]
    return xp.narrow(v * mult[gid] if fmt.float_scale else xp.ldexp(v, X[gid]), dtype)


def saturate_output(values, codes, fmt: Format, X, mult, top: float):
    """Under overflow="saturate", values whose code and scale are finite but beyond the output dtype's range
    (largest finite value `top`) become +-top, never inf: the element saturates, and so does its conversion
    to the output. Codes that mean +-inf keep it. A no-op (no pass over the values) when no group can reach
    past `top`."""
    if fmt.float_scale:
        if X.shape[0] == 0 or float(mult.max()) * float(fmt.next_up) < top:
            return values
    elif X.shape[0] == 0 or int(X.max()) + floor_log2(fmt.next_up) + 1 <= math.frexp(top)[1] - 1:
        return values
    xp = ops(values)
    over = xp.isinf(values)
    if fmt.has_inf and codes is not None:
        _, _, inf_p, inf_n = fmt.special_codes
        over = over & (codes != inf_p) & (codes != inf_n)
    return xp.where(over, xp.copysign(xp.full_like(values, top), values), values)


def encode(x: np.ndarray, fmt: Format, layout, rounding: str, overflow: str, random_bits=None, sr_bits=None):
    """rf8lab's backend="vectorized" (numpy): codes, scale exponents and multipliers, as fast.encode."""
    if reference.inexact_in_float64(x):
        return reference.encode(x, fmt, layout, rounding, overflow, random_bits, sr_bits)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf inputs are handled, not warned about
        flat = np.asarray(x).reshape(-1).astype(np.float64)
        gid = None if layout.granularity in (None, "tensor") else layout.group_ids().reshape(-1)
        bits = None if random_bits is None else np.asarray(random_bits).reshape(-1).astype(np.int64)
        codes, X, mult = encode_flat(flat, fmt, layout, rounding, overflow, bits, gid, sr_bits)
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
