"""The default backend: prepares arrays for the Numba kernels and computes the group scales.

Falls back, documented, in two rare cases: to the reference codec for integer inputs beyond 2^53 in
magnitude (not exact in float64), and to the vectorized codec to decode scale exponents so extreme that a
value times 2^X is not exact in float64.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..formats import Format, floor_log2
from ..formats.minifloat import minifloat_decoder
from ..policies import Overflow, Rounding
from . import kernels, reference, vectorized
from .layout import Layout
from .scale_rule import POWER_OF_TWO_RULES, exponent_steps, group_scales, multipliers
from .xp import NumpyOps


def _native(x: np.ndarray) -> np.ndarray:
    """C-contiguous, native byte order; a view when it already is (no copy)."""
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


class _Input(NamedTuple):
    """The input as the kernels read it: `bits` are float32 or float64 patterns (kind 0, `floats` their
    values), bfloat16 (kind 1) or float16 (kind 2) patterns, or an 8-bit type's codes (kind 3, `lut`: the
    float32 pattern of each). |x| orders like `bits & mask` below `inf_bits` (8-bit types: like `mag`)."""
    bits: np.ndarray
    floats: np.ndarray
    kind: int
    lut: np.ndarray
    mag: np.ndarray
    mask: object
    inf_bits: object


_NONE = np.empty(0, np.uint32)
_NO_FLOATS = np.empty(0, np.float32)


def _bits(x: np.ndarray) -> _Input:
    x = _native(x).reshape(-1)
    dt = x.dtype
    if dt.kind in "iu":  # exact in float64: the caller checked |x| <= 2^53
        x, dt = x.astype(np.float64), np.dtype(np.float64)
    if dt == np.float32:
        return _Input(x.view(np.uint32), x, 0, _NONE, _NONE, np.uint32(0x7FFFFFFF), np.uint32(0x7F800000))
    if dt == np.float64:
        return _Input(x.view(np.uint64), x, 0, _NONE, _NONE, np.uint64(2 ** 63 - 1), np.uint64(0x7FF << 52))
    if dt == np.float16:
        return _Input(x.view(np.uint16), x, 2, _NONE, _NONE, np.uint16(0x7FFF), np.uint16(0x7C00))
    if dt.name == "bfloat16":  # ml_dtypes' (the caller checked the dtype)
        return _Input(x.view(np.uint16), x, 1, _NONE, _NONE, np.uint16(0x7FFF), np.uint16(0x7F80))
    lut = kernels.bits_lut(dt)
    return _Input(x.view(np.uint8), x, 3, lut, _magnitudes(dt), np.uint8(0), np.uint8(0))


@lru_cache(maxsize=None)
def _magnitudes(dt: np.dtype) -> np.ndarray:
    """float32 pattern of |x| for each code of an 8-bit type (0 for NaN and inf)."""
    b = kernels.bits_lut(dt) & np.uint32(0x7FFFFFFF)
    return np.where(b < 0x7F800000, b, 0).astype(np.uint32)


def _pattern_values(top: np.ndarray, inp: _Input) -> np.ndarray:
    """float64 values of the |x| patterns the max kernels return."""
    if inp.kind == 0:
        width = inp.bits.dtype
        return top.astype(width).view(np.float32 if width == np.uint32 else np.float64).astype(np.float64)
    if inp.kind == 3:
        return top.astype(np.uint32).view(np.float32).astype(np.float64)
    return top.astype(np.uint16).view(inp.floats.dtype).astype(np.float64)


def _view3(layout: Layout):
    """(gid_mode, (outer, n, inner) as int64, block) of the layout's element -> group map (Layout.view3)."""
    gid_mode, s3, block = layout.view3()
    return gid_mode, np.array(s3, np.int64), block


def _prepare(x: np.ndarray, fmt: Format, layout: Layout):
    """Kernel inputs, the element -> group map and each group's scale (X, multiplier)."""
    gid_mode, s3, block = _view3(layout)
    inp = _bits(x)
    ngroups = max(1, int(np.prod(layout.scale_shape, dtype=np.int64)))
    if layout.granularity is None:
        X, mult = group_scales(fmt, np.full(ngroups, -1.0), None)
    elif fmt.scale_rule in POWER_OF_TWO_RULES:  # the rule tabulated, read by a kernel: no numpy pass per group
        amax = _group_amax(inp, gid_mode, s3, block, ngroups)
        X = np.empty(ngroups, np.int64)
        if kernels.scale_exps(amax, *exponent_steps(fmt), X):  # float64 subnormal maxima: the rule itself
            sub = (amax > 0) & (amax < 2.0 ** -1022)
            X[sub] = group_scales(fmt, amax[sub], layout.granularity)[0]
        mult = multipliers(X)
    else:
        amax = _group_amax(inp, gid_mode, s3, block, ngroups)
        X, mult = group_scales(fmt, np.where(amax > 0, amax, -1.0), layout.granularity)
    return inp, gid_mode, s3, block, X.astype(np.int32), mult


def _fast_path(x: np.ndarray, fmt: Format, layout: Layout, rounding: str) -> bool:
    """16-bit key tables (faster than the per-binade tables where they apply): a deterministic rounding,
    one scale, float32-or-narrower input, or float64 where the keys are round-to-odd ones (read as float32
    patterns rounded to odd would be, kernels._keys64), big enough to pay for building the table."""
    return (layout.granularity in (None, "tensor") and not Rounding(rounding).stochastic
            and not fmt.float_scale and x.dtype.kind not in "iu" and x.size >= 1 << 16
            and (x.dtype.itemsize <= 4 or _odd_keys(fmt, rounding)))


def _minifloat_arithmetic(x: np.ndarray, fmt: Format, rounding: str) -> MinifloatLayout | None:
    """What the minifloat arithmetic needs (kernels.encode_minifloat, and encode_contiguous group by group):
    float32 input, rounding to nearest, an IEEE-like format (minifloat_layout); None elsewhere."""
    return minifloat_layout(fmt) if x.dtype == np.float32 and rounding == Rounding.NEAREST else None


def _minifloat_path(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, X: int) -> MinifloatLayout | None:
    """_minifloat_arithmetic with one scale exponent X, within the kernel's bounds."""
    ieee = _minifloat_arithmetic(x, fmt, rounding) if layout.granularity in (None, "tensor") else None
    return ieee if ieee is not None and kernels.minifloat_in_bounds(X, ieee.mbits, ieee.emin) else None


def _scaled_path(x: np.ndarray, fmt: Format, layout: Layout, rounding: str) -> bool:
    """One key table at scale 0, read at keys shifted by each group's scale exponent, per channel and per block
    (kernels.encode_contiguous, kernels.lookup_scaled): a deterministic rounding, float32-or-narrower input,
    big enough to pay for the table."""
    return (layout.granularity in ("channel", "block") and not Rounding(rounding).stochastic
            and not fmt.float_scale and x.dtype.kind not in "iu" and x.dtype.itemsize <= 4 and x.size >= 1 << 16)


def _stochastic_path(x: np.ndarray, fmt: Format, rounding: str) -> bool:
    """Stochastic rounding at shifted keys (kernels.stochastic_scaled; IEEE-like formats by arithmetic there,
    minifloat_layout): float32 input, a power-of-two scale, big enough to pay for the table."""
    return (Rounding(rounding).stochastic and not fmt.float_scale and x.dtype == np.float32
            and x.size >= 1 << 16)


@lru_cache(maxsize=256)
def stochastic_tables(fmt: Format, rounding: str, overflow: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(floor rank of every truncated 16-bit key at scale 0, grid magnitudes, code of each rank) as int32 and
    float64, read from the per-binade tables (kernels.codes): a key's pattern k << 16 has the binade
    (k >> 7) & 255 less the bias and 8 mantissa bits (its 7, then 0), sticky bit 0."""
    C = kernels.codes(fmt.name, str(rounding), str(overflow))
    k = np.arange(1 << 16, dtype=np.int64)
    row = np.clip(((k >> 7) & 255) - 127 - C.row_base, 0, C.rows - 1)
    floor0 = C.floor[(row << kernels.KEYSHIFT) | ((k & 127) << 2)].astype(np.int32)
    return floor0, C.ext, C.rank_code.astype(np.int32)


@lru_cache(maxsize=256)
def stochastic_key_table(fmt: Format, rounding: str, overflow: str) -> np.ndarray:
    """For every truncated 16-bit key at scale 0, int32 (code rounded down) | (code rounded up) << 8 | j << 16,
    where the grid step 2^s above the key's floor lo is a power of two and lo a multiple of it, so that the
    stochastic comparison is one of integers (kernels._stochastic_spacing_up): j = 23 + s - the key's binade,
    the bit of the float32 significand at the step, within 0..60; elsewhere (RF8's step from 0 to its least
    magnitude, 1.5 2^-16) j = 255, and the kernel compares floats. Both codes and the floor come from
    stochastic_tables (the per-binade tables, filled by the reference)."""
    floor0, ext, rank_code = stochastic_tables(fmt, rounding, overflow)
    n = len(fmt.magnitudes)
    k = np.arange(1 << 16, dtype=np.int64)
    sign, binade = k >> 15, ((k >> 7) & 255) - 127
    r = floor0.astype(np.int64)
    lo, hi = ext[r], ext[r + 1]  # r <= n, and ext ends in next_up twice
    step = hi - lo
    mant, s = np.frexp(step)
    power = (mant == 0.5) & (np.mod(lo, np.where(step > 0, step, 1.0)) == 0)
    j = np.where(r < n, np.where(power, np.clip(23 + (s - 1) - binade, 0, 60), 255), 0)
    down = rank_code[sign * (n + 1) + r]
    up = rank_code[sign * (n + 1) + np.minimum(r + 1, n)]
    return (down.astype(np.int64) | (up.astype(np.int64) << 8) | (j << 16)).astype(np.int32)


class MinifloatLayout(NamedTuple):
    """What kernels.encode_minifloat (and stochastic_scaled's minifloat pieces) need of a format whose codes are an
    IEEE-like float's."""
    mbits: int   # mantissa bits
    emin: int    # least normal binade: index i >= 2^mbits has exponent emin - 1 + (i >> mbits)
    maxmag: int  # index of max
    sign: int    # the bit a negative code adds to its magnitude's


@lru_cache(maxsize=None)
def minifloat_layout(fmt: Format) -> MinifloatLayout | None:
    """The format's (mbits, emin, max index, sign bit) where its magnitudes, zero to next_up, are an IEEE-like
    float's by index and its codes are index | sign bit (every registered OCP, ml_dtypes and MX float but the
    FNUZ and unsigned ones); None elsewhere. Checked against the format's own magnitudes and codes."""
    mags = fmt.magnitudes
    if fmt.float_scale or not fmt.signed or len(mags) < 2:
        return None
    sign = 1 << (fmt.bits - 1)
    for mbits in range(8):
        emin = floor_log2(mags[1]) + mbits  # mags[1] = 2^(emin - mbits), the least subnormal (2^emin if mbits = 0)
        ebits = max(1, len(mags).bit_length() - mbits)  # enough to index next_up too
        magnitude = minifloat_decoder(ebits, mbits, 1 - emin, "none", signed=False)  # index -> (sign, magnitude)
        if all(magnitude(i)[1] == m for i, m in enumerate(mags)) and magnitude(len(mags))[1] == fmt.next_up \
                and all(fmt.code_for(False, i) == i and fmt.code_for(True, i) == i | sign for i in range(len(mags))):
            return MinifloatLayout(mbits, emin, len(mags) - 1, sign)
    return None


@lru_cache(maxsize=None)
def minifloat_specials(fmt: Format, rounding: str, overflow: str) -> tuple[int, ...]:
    """The reference's codes for (overflow +, overflow -, inf +, inf -, NaN +, NaN -) under this rounding and
    overflow mode (-1 for NaN where the format has no NaN code: api.encode refuses NaN input to such a
    format before any kernel runs)."""
    huge = fmt.next_up * 2

    def code(negative, mag):
        try:
            return reference.encode_element(negative, mag, fmt, Fraction(1), rounding, overflow)
        except ValueError:
            return -1
    return tuple(code(neg, mag) for mag in (huge, math.inf, math.nan) for neg in (False, True))


def _float32_lut(inp: _Input) -> np.ndarray | None:
    """The table from the input's patterns to float32 patterns; None for float32 input (the kernels compile
    the table read away)."""
    if inp.kind == 0:
        return None
    return kernels.bits_lut(inp.floats.dtype) if inp.kind in (1, 2) else inp.lut


def _key_mask(fmt: Format, rounding: str) -> np.uint32:
    """The kernels' key mask: 0xFFFF for round-to-odd keys (_odd_keys), 0 for truncated ones."""
    return np.uint32(0xFFFF if _odd_keys(fmt, rounding) else 0)


def encode(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str,
           random_bits: np.ndarray | None = None, sr_bits: int | None = None, seed: int | None = None,
           values: np.ndarray | None = None, prepared=None):
    """Codes, scale exponents and multipliers; stochastic rounding reads `random_bits`, or draws its bits
    in the kernels from `seed` (vectorized.draw_bits). With `values` (a float32 value table, one scale
    only), the output is values[code] instead of the codes (quantize in one pass); `prepared` is
    _prepare's result where the caller has it already (the absmax pass is not run twice)."""
    rounding, overflow = Rounding(rounding), Overflow(overflow)  # rf8lab 0.1's names too
    if x.size == 0 or reference.inexact_in_float64(x):
        if seed is not None:
            random_bits = vectorized.random_bits(seed, x.shape, sr_bits)
        return reference.encode(x, fmt, layout, rounding, overflow, random_bits, sr_bits)
    if prepared is None and _scaled_path(x, fmt, layout, rounding):
        done = _encode_contiguous(x, fmt, layout, rounding, overflow)
        if done is not None:
            return done
    inp, gid_mode, s3, block, X, mult = prepared or _prepare(x, fmt, layout)
    Xf = X.reshape(-1).astype(np.int64)
    rb = _native(random_bits).reshape(-1) if random_bits is not None else _NONE
    key = np.uint64(0 if seed is None else seed)
    nsr = -1 if sr_bits is None else sr_bits
    rnd, over = kernels.ROUND[rounding], kernels.OVER[overflow]
    T = kernels.tables(fmt.name, str(rounding))
    out = np.empty(x.size, np.uint8 if values is None else values.dtype)
    minifloat = _minifloat_path(x, fmt, layout, rounding, int(Xf[0]))
    if minifloat is not None:  # one scale exponent
        kernels.encode_minifloat(inp.bits, inp.floats, int(Xf[0]), *minifloat,
                                 minifloat_specials(fmt, rounding, overflow), values, out)
    elif _fast_path(x, fmt, layout, rounding):
        _lookup(inp, fmt, int(Xf[0]), rounding, overflow, _NONE if values is None else values, out)
    elif values is None and _stochastic_path(x, fmt, rounding):
        floor0, ext, rank_code = stochastic_tables(fmt, rounding, overflow)
        ieee = minifloat_layout(fmt)
        kernels.stochastic_scaled(inp.bits, inp.floats, floor0, ext, rank_code, len(fmt.magnitudes),
                                  stochastic_key_table(fmt, rounding, overflow), X.reshape(-1),
                                  gid_mode, s3, block, rnd, over, key, None if random_bits is None else rb, nsr, T, out,
                                  ieee or (-1, 0, 0, 0),
                                  minifloat_specials(fmt, rounding, overflow) if ieee else (0,) * 6)
    elif values is None and _scaled_path(x, fmt, layout, rounding):
        tab, sub, omask = scale0_tables(fmt, rounding, overflow)
        kernels.lookup_scaled(inp.bits, _float32_lut(inp), omask, tab, sub, X.reshape(-1), gid_mode, s3, block, rnd,
                              over, T, out)
    elif fmt.float_scale:
        bits, mbits, lut = inp.bits, 23, inp.lut
        if inp.kind in (1, 2):
            lut = kernels.bits_lut(inp.floats.dtype)
        elif inp.kind == 0:
            mbits = 23 if inp.bits.dtype == np.uint32 else 52
        kernels.encode_mult(bits, mbits, lut, gid_mode, s3, block, mult.reshape(-1), rnd, over, key, rb, nsr, T,
                            out)
    else:
        C = kernels.codes(fmt.name, str(rounding), str(overflow))
        with np.errstate(over="ignore"):
            invs = np.ldexp(1.0, -Xf)
        vals = _IDENTITY if values is None else values
        if inp.kind == 0:
            kernels.encode_patterns(inp.bits, inp.floats, gid_mode, s3, block, Xf, invs, rnd, over, key, rb, nsr,
                                    C, T, vals, out)
        else:
            kernels.encode_narrow(inp.bits, inp.kind, inp.lut, gid_mode, s3, block, Xf, invs, rnd, over, key, rb,
                                  nsr, C, T, vals, out)
    shape = layout.scale_shape
    return out.reshape(x.shape), X.reshape(shape), mult.reshape(shape)


def _encode_contiguous(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str):
    """(codes, X, multipliers) in one pass where every group is a contiguous run (kernels.encode_contiguous);
    None where the groups are not, or where a group's maximum is a float32 subnormal (the two-pass path)."""
    gid_mode, s3, block = _view3(layout)
    if not (gid_mode == 2 and s3[2] == 1 or gid_mode == 1 and s3[0] == 1):
        return None
    inp = _bits(x)
    ngroups = max(1, int(np.prod(layout.scale_shape, dtype=np.int64)))
    X = np.empty(ngroups, np.int32)
    out = np.empty(x.size, np.uint8)
    tab, sub, omask = scale0_tables(fmt, rounding, overflow)
    base, cut, x_none = exponent_steps(fmt, np.float32)
    ieee = _minifloat_arithmetic(x, fmt, rounding)
    if kernels.encode_contiguous(inp.bits, _float32_lut(inp), gid_mode, s3, block, base, cut, x_none, omask, tab, sub,
                                 kernels.ROUND[rounding], kernels.OVER[overflow],
                                 kernels.tables(fmt.name, str(rounding)), X, out,
                                 inp.floats if ieee else _NO_FLOATS, ieee or (-1, 0, 0, 0),
                                 minifloat_specials(fmt, rounding, overflow) if ieee else (0,) * 6):
        return None
    shape = layout.scale_shape
    return out.reshape(x.shape), X.reshape(shape), multipliers(X.astype(np.int64)).reshape(shape)


def quantize_fused(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str, dtype,
                   random_bits=None, sr_bits=None, seed=None):
    """One pass straight to float32 values (a table of values instead of codes) for one scale per tensor;
    None otherwise. Equal to decode(encode(x)) by construction of the value table."""
    rounding, overflow = Rounding(rounding), Overflow(overflow)
    if (dtype != np.float32 or layout.granularity not in (None, "tensor") or fmt.float_scale or x.size == 0
            or reference.inexact_in_float64(x)):
        return None
    prepared = _prepare(x, fmt, layout)
    X, mult = prepared[4], prepared[5]  # one group: the whole tensor
    with np.errstate(over="ignore"):
        values = np.ldexp(np.array(fmt.values, np.float64), int(X.reshape(-1)[0])).astype(np.float32)
    if overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE):  # the table saturates at float32's max, as decode
        values = vectorized.saturate_output(values, _IDENTITY, fmt, X.reshape(-1), mult.reshape(-1),
                                            float(np.finfo(np.float32).max))
    return encode(x, fmt, layout, rounding, overflow, random_bits, sr_bits, seed, values, prepared)[0]


def _group_amax(inp: _Input, gid_mode, s3, block, ngroups) -> np.ndarray:
    """Each group's largest finite |x|, exact in float64 (0 where there is none): an integer max
    over bit patterns, which order like the magnitudes."""
    if gid_mode == 0:
        top = np.array([kernels.max_abs(inp.bits, inp.mag, inp.mask, inp.inf_bits)], np.uint64)
    else:
        top = kernels.group_max_abs(inp.bits, inp.mag, inp.mask, inp.inf_bits, gid_mode, s3, block, ngroups)
    return _pattern_values(top, inp)


_IDENTITY = np.arange(256, dtype=np.uint8)  # "values" that are the codes themselves


@lru_cache(maxsize=256)
def key_table(fmt: Format, X: int, rounding: str, overflow: str) -> tuple[np.ndarray, bool]:
    """The 16-bit key table and whether every entry is decided (no -1)."""
    tab = kernels.key16_table(X, kernels.ROUND[rounding], kernels.OVER[overflow], _odd_keys(fmt, rounding),
                              kernels.tables(fmt.name, str(rounding)))
    return tab, bool((tab >= 0).all())


def _odd_keys(fmt: Format, rounding: str) -> bool:
    """Round-to-odd 16-bit keys decide every normal input of the table roundings when no threshold needs
    more than 6 fraction bits; log rounding, and formats such as binary8p7, use truncated keys."""
    return rounding != Rounding.LOG and fmt.threshold_bits <= 6


@lru_cache(maxsize=256)
def refined_table(fmt: Format, X: int, rounding: str, overflow: str):
    """(key table, second level) of a truncated-key table (kernels.refine_table), as int32 (vectorized gathers)."""
    ref, sub = kernels.refine_table(key_table(fmt, X, rounding, overflow)[0], X, kernels.ROUND[rounding],
                                    kernels.OVER[overflow], kernels.tables(fmt.name, str(rounding)))
    return ref.astype(np.int32), sub.astype(np.int32)


@lru_cache(maxsize=256)
def scale0_tables(fmt: Format, rounding: str, overflow: str) -> tuple[np.ndarray, np.ndarray | None, np.uint32]:
    """(key table, second level, key mask) at scale exponent 0 for the shifted-key kernels: int32 codes on
    round-to-odd keys, which decide every normal input (mask 0xFFFF, no second level: None), or on truncated
    keys (mask 0) with refine_table's second level."""
    if _odd_keys(fmt, rounding):
        tab = key_table(fmt, 0, rounding, overflow)[0]
        exponent = (np.arange(1 << 16) >> 7) & 255
        assert (tab[(exponent > 0) & (exponent < 255)] >= 0).all(), f"{fmt.name}: a normal key is undecided"
        return np.maximum(tab, 0).astype(np.int32), None, _key_mask(fmt, rounding)
    return (*refined_table(fmt, 0, rounding, overflow), _key_mask(fmt, rounding))


_ALL16 = np.arange(1 << 16, dtype=np.uint16)


@lru_cache(maxsize=256)
def pattern_table(fmt: Format, X: int, rounding: str, overflow: str, dtype: np.dtype) -> np.ndarray:
    """int32 code of every float16 or bfloat16 pattern at scale exponent X: for 16-bit input one gather
    per element, the pattern as its own key (computed by the float32 key-table path below)."""
    out = np.empty(1 << 16, np.int32)
    _lookup_float32(_bits(_ALL16.view(dtype)), fmt, X, rounding, overflow, _NONE, out)
    return out


def _lookup(inp: _Input, fmt: Format, X: int, rounding: str, overflow: str, vals, out) -> None:
    """Codes (or, with `vals`, their values) of one scale exponent: 16-bit input through its pattern
    table, everything else through the 16-bit key table of its float32 patterns."""
    if inp.kind in (1, 2):
        tab = pattern_table(fmt, X, rounding, overflow, inp.floats.dtype)
        kernels.lookup(inp.bits, None, np.uint32(0xFFFF), vals[tab] if vals.size else tab, out)
    else:
        _lookup_float32(inp, fmt, X, rounding, overflow, vals, out)


def _lookup_float32(inp: _Input, fmt: Format, X: int, rounding: str, overflow: str, vals, out) -> None:
    """Codes (or, with `vals`, their values) from the 16-bit key table, then exact rounding for the
    few elements whose key does not decide."""
    lut = _float32_lut(inp)
    tab, decided = key_table(fmt, X, rounding, overflow)
    odd = _odd_keys(fmt, rounding)
    rnd, over, T = kernels.ROUND[rounding], kernels.OVER[overflow], kernels.tables(fmt.name, str(rounding))
    if not decided and not odd:  # truncated keys: a second level of 8 bits decides nearly all the rest
        ref, sub = refined_table(fmt, X, rounding, overflow)
        kernels.lookup_refined(inp.bits, lut, ref, sub, vals if vals.size else _IDENTITY, X, rnd, over, T, out)
        return
    safe = np.maximum(tab, 0)
    omask = _key_mask(fmt, rounding)
    outside = kernels.lookup(inp.bits, lut, omask, vals[safe] if vals.size else safe.astype(np.int32), out)
    if not decided or outside:
        kernels.fill_undecided(inp.bits, lut, omask, tab < 0, X, rnd, over, T, vals, out)


def decode(codes: np.ndarray, fmt: Format, layout: Layout, scale_exp: np.ndarray, scale: np.ndarray,
           dtype, out=None) -> np.ndarray:
    """Values of the codes; the kernel writes straight into `out` (C-contiguous, codes' shape, dtype) where
    it is given and float32 or float64, and the result is copied into it otherwise."""
    dtype = np.dtype(dtype)
    if codes.size == 0:
        return np.empty(codes.shape, dtype) if out is None else out
    kernel_dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    gid_mode, s3, block = _view3(layout)
    vt = np.array(fmt.values, np.float64)
    if fmt.float_scale:
        mults = np.asarray(scale, np.float64).reshape(-1)
    else:
        X = np.asarray(scale_exp).reshape(-1)
        lo, hi = int(X.min()), int(X.max())
        if min(lo, lo + floor_log2(fmt.min_positive)) < -1022 or hi > 1023:  # vt 2^X not always exact: rare
            return vectorized.decode(codes, fmt, layout, scale_exp, scale, dtype)
        mults = kernels.exp2_bits(X, np.empty(X.size, np.uint64)).view(np.float64)
    if mults.size == 1:
        with np.errstate(over="ignore", invalid="ignore"):
            tab = (vt * mults[0]).astype(kernel_dtype)
    else:
        tab = np.empty(0, kernel_dtype)
    flat = out.reshape(-1) if out is not None and dtype == kernel_dtype else np.empty(codes.size, kernel_dtype)
    kernels.decode_codes(_native(codes).reshape(-1), gid_mode, s3, block, tab, vt, mults, flat)
    values = flat.reshape(codes.shape)
    return values if values.dtype == dtype else NumpyOps.narrow(values, dtype)
