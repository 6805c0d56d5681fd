"""The default backend: prepares arrays for the Numba kernels and computes the group scales.

Falls back to the reference codec, documented, in one rare case: integer inputs beyond 2^53 in
magnitude (not exact in float64).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..formats import Format
from ..policies import Overflow, Rounding
from . import kernels, reference, vectorized
from .layout import Layout
from .scale_rule import group_scales
from .xp import NumpyOps


def _native(x: np.ndarray) -> np.ndarray:
    """C-contiguous, native byte order; a view when it already is (no copy)."""
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


class _Input(NamedTuple):
    """Flat bit patterns for the kernels: float32 patterns (mbits 23; 16- and 8-bit types through
    `lut`) or float64 patterns (mbits 52)."""
    bits: np.ndarray
    mbits: int
    lut: np.ndarray


def _bits(x: np.ndarray) -> _Input:
    x = _native(x).reshape(-1)
    dt = x.dtype
    none = np.empty(0, np.uint32)
    if dt == np.float32:
        return _Input(x.view(np.uint32), 23, none)
    if dt == np.float64:
        return _Input(x.view(np.uint64), 52, none)
    if dt.kind in "iu":  # exact in float64: the caller checked |x| <= 2^53
        return _Input(x.astype(np.float64).view(np.uint64), 52, none)
    width = np.uint16 if dt.itemsize == 2 else np.uint8
    return _Input(x.view(width), 23, kernels.bits_lut(dt))


def _view3(layout: Layout):
    """(gid_mode, (outer, n, inner), block) of the layout's element -> group map."""
    shape = layout.shape
    if layout.granularity in (None, "tensor"):
        return 0, np.array([1, max(1, int(np.prod(shape, dtype=np.int64))), 1], np.int64), 1
    a = layout.axis
    outer = int(np.prod(shape[:a], dtype=np.int64))
    inner = int(np.prod(shape[a + 1:], dtype=np.int64))
    s3 = np.array([outer, shape[a], inner], np.int64)
    return (1, s3, 1) if layout.granularity == "channel" else (2, s3, layout.block)


def _prepare(x: np.ndarray, fmt: Format, layout: Layout):
    """Kernel inputs, the element -> group map and each group's scale (X, multiplier)."""
    gid_mode, s3, block = _view3(layout)
    inp = _bits(x)
    ngroups = max(1, int(np.prod(layout.scale_shape, dtype=np.int64)))
    if layout.granularity is None:
        amax = np.full(ngroups, -1.0)
    else:
        amax = _group_amax(inp, gid_mode, s3, block, ngroups)
    X, mult = group_scales(fmt, amax, layout.granularity)
    X = X.astype(np.int32)
    return inp, gid_mode, s3, block, X, mult


def _fast_path(x: np.ndarray, fmt: Format, layout: Layout, rounding: str) -> bool:
    """16-bit key tables: a deterministic rounding, one scale, float32-or-narrower input, big enough to
    pay for building the table."""
    return (layout.granularity in (None, "tensor") and not Rounding(rounding).stochastic
            and not fmt.float_scale and x.dtype.kind not in "iu" and x.dtype.itemsize <= 4
            and x.size >= 1 << 16)


def encode(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str,
           random_bits: np.ndarray | None = None, sr_bits: int | None = None):
    rounding, overflow = Rounding(rounding), Overflow(overflow)  # rf8lab 0.1's names too
    if x.size == 0 or reference.inexact_in_float64(x):
        return reference.encode(x, fmt, layout, rounding, overflow, random_bits, sr_bits)
    inp, gid_mode, s3, block, X, mult = _prepare(x, fmt, layout)
    Xf = X.reshape(-1).astype(np.int64)
    out = np.empty(x.size, np.uint8)
    rb = _native(random_bits).reshape(-1) if random_bits is not None else np.empty(0, np.uint32)
    if _fast_path(x, fmt, layout, rounding):
        _lookup(inp, fmt, int(Xf[0]), rounding, overflow, np.empty(0, np.uint8), out)
    else:
        kernel = kernels.encode_mult if fmt.float_scale else kernels.encode_float
        kernel(inp.bits, inp.mbits, inp.lut, gid_mode, s3, block, mult.reshape(-1) if fmt.float_scale else Xf,
               kernels.ROUND[rounding], kernels.OVER[overflow], rb, -1 if sr_bits is None else sr_bits,
               kernels.tables(fmt.name, str(rounding)), out)
    shape = layout.scale_shape
    return out.reshape(x.shape), X.reshape(shape), mult.reshape(shape)


def quantize_fused(x: np.ndarray, fmt: Format, layout: Layout, rounding: str, overflow: str, dtype):
    """One pass straight to float32 values (a table of values instead of codes) when the fast path
    applies; None otherwise. Equal to decode(encode(x)) by construction of the value table."""
    rounding, overflow = Rounding(rounding), Overflow(overflow)
    if dtype != np.float32 or not _fast_path(x, fmt, layout, rounding):
        return None
    inp, _, _, _, X, mult = _prepare(x, fmt, layout)  # one group: the whole tensor
    x0 = int(X.reshape(-1)[0])
    with np.errstate(over="ignore"):
        values = np.ldexp(np.array(fmt.values, np.float64), x0).astype(np.float32)
    if overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE):  # the table saturates at float32's max, as decode
        values = vectorized.saturate_output(values, np.arange(256, dtype=np.uint8), fmt, X.reshape(-1),
                                            mult.reshape(-1), float(np.finfo(np.float32).max))
    out = np.empty(x.size, np.float32)
    _lookup(inp, fmt, x0, rounding, overflow, values, out)
    return out.reshape(x.shape)


def _group_amax(inp: _Input, gid_mode, s3, block, ngroups) -> np.ndarray:
    """Each group's largest finite |x|, exact in float64 (-1 where there is none): an integer max
    over bit patterns, which order like the magnitudes."""
    f32 = inp.mbits == 23
    mask = np.uint64(0x7FFFFFFF if f32 else 0x7FFFFFFFFFFFFFFF)
    inf_bits = np.uint64(0x7F800000 if f32 else 0x7FF0000000000000)
    if gid_mode == 0:
        top = np.array([kernels.max_abs_bits(inp.bits, inp.lut, mask, inf_bits)], np.uint64)
    else:
        top = kernels.group_max_abs_bits(inp.bits, inp.lut, mask, inf_bits, gid_mode, s3, block, ngroups)
    v = top.astype(np.uint32).view(np.float32).astype(np.float64) if f32 else top.view(np.float64)
    return np.where(v > 0, v, -1.0)


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


_IDENTITY = np.arange(256, dtype=np.uint8)  # "values" that are the codes themselves


@lru_cache(maxsize=256)
def refined_table(fmt: Format, X: int, rounding: str, overflow: str):
    return kernels.refine_table(key_table(fmt, X, rounding, overflow)[0], X, kernels.ROUND[rounding],
                                kernels.OVER[overflow], kernels.tables(fmt.name, str(rounding)))


def _lookup(inp: _Input, fmt: Format, X: int, rounding: str, overflow: str, vals, out) -> None:
    """Codes (or, with `vals`, their values) from the 16-bit key table, then exact rounding for the
    few elements whose key does not decide."""
    tab, decided = key_table(fmt, X, rounding, overflow)
    odd = _odd_keys(fmt, rounding)
    if not decided and not odd:  # truncated keys: a second level of 8 bits decides nearly all the rest
        ref, sub = refined_table(fmt, X, rounding, overflow)
        kernels.lookup_refined(inp.bits, inp.lut, ref, sub, vals if vals.size else _IDENTITY, X,
                               kernels.ROUND[rounding], kernels.OVER[overflow], kernels.tables(fmt.name, str(rounding)),
                               out)
        return
    safe = np.maximum(tab, 0)
    kernels.lookup(inp.bits, inp.lut, odd, vals[safe] if vals.size else safe.astype(np.uint8), out)
    if not decided:
        kernels.fill_undecided(inp.bits, inp.lut, odd, tab < 0, X, kernels.ROUND[rounding], kernels.OVER[overflow],
                               kernels.tables(fmt.name, str(rounding)), vals, out)


def decode(codes: np.ndarray, fmt: Format, layout: Layout, scale_exp: np.ndarray, scale: np.ndarray,
           dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if codes.size == 0:
        return np.empty(codes.shape, dtype)
    kernel_dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    gid_mode, s3, block = _view3(layout)
    vt = np.array(fmt.values, np.float64)
    X = scale_exp.reshape(-1).astype(np.int64)
    ngroups = X.size
    if ngroups * 256 <= max(4096, codes.size // 4):
        with np.errstate(over="ignore", invalid="ignore"):
            if fmt.float_scale:
                tables = vt[None, :] * scale.reshape(-1)[:, None]
            else:
                tables = np.ldexp(vt[None, :], X[:, None])
            tables = tables.astype(kernel_dtype)
    else:
        tables = np.empty((0, 256), kernel_dtype)
    out = np.empty(codes.size, kernel_dtype)
    kernels.decode_codes(_native(codes).reshape(-1), gid_mode, s3, block, tables, vt, X,
                   scale.reshape(-1).astype(np.float64), fmt.float_scale, out)
    out = out.reshape(codes.shape)
    return out if out.dtype == dtype else NumpyOps.narrow(out, dtype)
