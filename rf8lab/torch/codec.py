"""RF8 and the other formats on torch tensors, on any device, equal bit for bit to the NumPy codec.

The decisions are those of rf8lab/kernels.py written as vectorized torch operations, and they read
the same tables (built from the exact reference): every input is widened to float64 (exact for
float16, bfloat16 and float32), split into binade and mantissa from its bit pattern, and the scale
exponent only moves the binade. Nothing here depends on the device, so the same code runs on CPU
and CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .. import kernels as K
from ..api import resolve
from ..formats import get_format
from ..layout import Layout
from ..scale_rule import group_scales, split

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass
class Encoded:
    """uint8 codes, the scale exponent of each group (None for int8) and the exact multiplier,
    mirroring rf8lab.Encoded."""
    codes: torch.Tensor
    scale_exp: torch.Tensor | None
    scale: torch.Tensor
    fmt: str
    layout: Layout
    dtype: torch.dtype
    rounding: str = "nearest"
    overflow: str = "saturate"


@lru_cache(maxsize=None)
def _tables_cpu(name: str) -> K.Tables:
    """The kernels' tables as tensors (index tables as int64 for gathers)."""
    T = K.tables(name)
    return T._replace(**{f: torch.from_numpy(np.ascontiguousarray(getattr(T, f)))
                         .to(torch.float64 if getattr(T, f).dtype == np.float64 else torch.int64)
                         for f in ("near", "flo", "ext", "pos", "neg", "L", "levels")})


_DEVICE_TABLES: dict = {}


def _tables(name: str, device):
    key = (name, str(device))
    if key not in _DEVICE_TABLES:
        T = _tables_cpu(name)
        _DEVICE_TABLES[key] = T._replace(**{f: v.to(device) for f, v in T._asdict().items() if torch.is_tensor(v)})
    return _DEVICE_TABLES[key]


def _values(name: str, device) -> torch.Tensor:
    key = ("values", name, str(device))
    if key not in _DEVICE_TABLES:
        _DEVICE_TABLES[key] = torch.tensor(get_format(name).values, dtype=torch.float64, device=device)
    return _DEVICE_TABLES[key]


def _group_index(layout: Layout, device) -> torch.Tensor | None:
    """Group of each element (flat, int64; cached per layout and device), or None for one group."""
    if layout.granularity in (None, "tensor"):
        return None
    key = ("gid", layout.granularity, layout.shape, layout.axis, layout.block, str(device))
    if key not in _DEVICE_TABLES:
        if len(_DEVICE_TABLES) > 256:
            for k in [k for k in _DEVICE_TABLES if k[0] == "gid"]:
                del _DEVICE_TABLES[k]
        ids = np.ascontiguousarray(layout.group_ids()).reshape(-1).astype(np.int64)
        _DEVICE_TABLES[key] = torch.from_numpy(ids).to(device)
    return _DEVICE_TABLES[key]


def _group_amax(a: torch.Tensor, gid, ngroups: int) -> torch.Tensor:
    """Largest finite |x| per group, -1 where a group has no finite value."""
    v = torch.where(torch.isfinite(a), a, torch.full_like(a, -1.0))
    if gid is None:
        return v.max().reshape(1) if v.numel() else torch.full((1,), -1.0, dtype=a.dtype, device=a.device)
    out = torch.full((ngroups,), -1.0, dtype=a.dtype, device=a.device)
    return out.scatter_reduce(0, gid, v, reduce="amax", include_self=True)


def _float_codes(x: torch.Tensor, X: torch.Tensor, name: str, rounding: str, overflow: str, rbits):
    """kernels._float_code for every element of flat float64 x at per-element scale exponents X."""
    T = _tables(name, x.device)
    near, flo, ext, pos, negc, L, levels = T.near, T.flo, T.ext, T.pos, T.neg, T.L, T.levels
    emin, emax, n, kmin, kmax = T.emin, T.emax, T.n, T.key_min, T.key_max
    nan_p, nan_n, inf_p, inf_n = T.nan_pos, T.nan_neg, T.inf_pos, T.inf_neg
    neg = torch.signbit(x)
    a = x.abs()
    finite = torch.isfinite(a)
    af = torch.where(finite & (a > 0), a, torch.ones_like(a))
    e, man, mant = split(af)  # af = mant 2^e exactly, mant in [1, 2), man its 52 fraction bits
    er = e - X
    m7 = man >> 45
    sticky = ((man & ((1 << 45) - 1)) != 0).to(torch.int64)
    key = lambda b, m: (((b - emin) << K.KEYSHIFT) | (m << 1)).clamp(0, near.numel() - 1)  # noqa: E731
    if rounding == "nearest":
        r = near[key(er, m7) | sticky]
        r = torch.where(er < emin, torch.zeros_like(r), torch.where(er > emax, torch.full_like(r, n), r))
    elif rounding == "log":
        c = (mant[:, None] > L[None, :]).sum(1)
        top = c == 7
        ev = er + top.to(torch.int64)
        mv = torch.where(top, torch.zeros_like(c), (levels[c.clamp(max=6)] * 128.0).to(torch.int64) - 128)
        kv = key(ev, mv)
        r = torch.where(kv < kmin, torch.zeros_like(kv), torch.where(kv > kmax, torch.full_like(kv, n), near[kv]))
        r = torch.where(ev < emin, torch.zeros_like(r), torch.where(ev > emax, torch.full_like(r, n), r))
    else:  # stochastic: up from the floor iff bits * (hi - lo) < (a - lo) * 2^32
        r = torch.where(er < emin, torch.zeros_like(er), flo[key(er, m7) | sticky])
        rc = r.clamp(max=n - 1)
        lo, hi = ext[rc], ext[rc + 1]
        bits = rbits.to(torch.float64)
        tiny = er < -1000
        aval = torch.ldexp(mant, er.to(torch.float64))
        up = torch.where(tiny, bits == 0, (aval != lo) & (bits * (hi - lo) < (aval - lo) * 4294967296.0))
        r = torch.where(er > emax, torch.full_like(r, n), r + ((r < n) & up).to(torch.int64))
    r = torch.where(torch.isinf(x), n, r)  # an infinity overflows, as in kernels._special
    code = torch.where(neg, negc[r.clamp(max=n - 1)], pos[r.clamp(max=n - 1)])  # saturated
    if overflow != "saturate":
        up_p, up_n = (inf_p, inf_n) if overflow == "inf" else (nan_p, nan_n)
        code = torch.where(r >= n, torch.where(neg, up_n, up_p), code)
    code = torch.where(a == 0, torch.where(neg, negc[0], pos[0]), code)
    code = torch.where(torch.isnan(x), torch.where(neg, nan_n, nan_p), code)
    return code.to(torch.uint8)


_two_prod = K._two_prod.py_func  # plain arithmetic: the kernels' Dekker product works on tensors as it is


def _sign_diff(x, k, s):
    """Sign of x - k*s exactly (kernels._sign_diff, vectorized)."""
    p, err = _two_prod(k, s)
    d = x - p
    t = d - err
    exact = torch.sign(t)
    return torch.where((d > 0) & (d > err.abs() * 4), torch.ones_like(d),
                       torch.where((d < 0) & (-d > err.abs() * 4), -torch.ones_like(d), exact))


def _int8_codes(x: torch.Tensor, s: torch.Tensor, stochastic: bool, rbits):
    """kernels._int8_code, vectorized: round |x| / s to an integer (ties to even, or stochastic)."""
    a = x.abs()
    big = (a == float("inf")) | (a / s >= 128.0)
    q = torch.where(big, torch.zeros_like(a), a / s)
    k = torch.floor(q)
    k = torch.where(_sign_diff(a, k, s) < 0, k - 1, k)
    k = torch.where(_sign_diff(a, k + 1, s) >= 0, k + 1, k)
    if stochastic:
        nk = k * 4294967296.0 + rbits.to(torch.float64)
        small = a < 2.0 ** 960
        up = torch.where(small, _sign_diff(a * 4294967296.0, nk, s) > 0, _sign_diff(a, nk, s * 2.0 ** -32) > 0)
    else:
        t = _sign_diff(2.0 * a, 2 * k + 1, s)
        up = (t > 0) | ((t == 0) & (torch.remainder(k, 2) == 1))
    k = torch.clamp(k + up.to(k.dtype), max=127)
    k = torch.where(big, torch.full_like(k, 127.0), k)
    k = torch.where(torch.isnan(x), torch.zeros_like(k), k).to(torch.int64)
    code = torch.where((x < 0) & (k > 0), 256 - k, k)
    return code.to(torch.uint8)


def _check(x, fmt, rounding, scale, overflow, axis, block, random_bits):
    if not torch.is_tensor(x):
        raise TypeError(f"rf8lab.torch takes a torch.Tensor, got {type(x).__name__}; use rf8lab for numpy arrays")
    if x.dtype not in _FLOATS:
        raise TypeError(f"dtype {x.dtype} is not supported; use float16, bfloat16, float32 or float64")
    f, layout = resolve(fmt, rounding, scale, overflow, x.shape, axis, block)
    if f.nan_codes is None and torch.isnan(x).any():
        raise ValueError(f"{f.name} has no NaN code and the input contains NaN; "
                         "remove or replace the NaNs (e.g. torch.nan_to_num) first")
    if rounding == "stochastic":
        if random_bits is None:
            random_bits = torch.randint(0, 2 ** 32, tuple(x.shape), dtype=torch.int64, device=x.device)
        elif not torch.is_tensor(random_bits) or tuple(random_bits.shape) != tuple(x.shape) or \
                random_bits.dtype not in (torch.int64, torch.uint32, torch.int32):
            raise ValueError(f"random_bits must be an integer tensor of shape {tuple(x.shape)} with values in "
                             "[0, 2^32) (int64, or uint32)")
        random_bits = random_bits.to(torch.int64) & 0xFFFFFFFF
    return f, layout, random_bits


def encode(x: torch.Tensor, fmt: str = "rf8", *, rounding="nearest", scale="auto", overflow="saturate", axis=None,
           block=None, random_bits=None) -> Encoded:
    """Codes of x in `fmt` (as rf8lab.encode; stochastic rounding draws from torch's generator
    unless random_bits, an integer tensor of x's shape with values in [0, 2^32), is given)."""
    f, layout, rbits = _check(x, fmt, rounding, scale, overflow, axis, block, random_bits)
    flat = x.detach().reshape(-1).to(torch.float64)
    gid = _group_index(layout, x.device)
    ngroups = max(1, int(np.prod(layout.scale_shape, dtype=np.int64)))
    if layout.granularity is None:
        amax = torch.full((ngroups,), -1.0, dtype=torch.float64, device=x.device)
    else:
        amax = _group_amax(flat.abs(), gid, ngroups)
    X, mult = group_scales(f, amax, layout.granularity)
    rb = None if rbits is None else rbits.reshape(-1)
    if f.scale_rule == "absmax":
        s = mult if gid is None else mult[gid]
        codes = _int8_codes(flat, s.expand_as(flat) if gid is None else s, rounding == "stochastic", rb)
    else:
        Xe = X.expand_as(flat) if gid is None else X[gid]
        codes = _float_codes(flat, Xe, f.name, rounding, overflow, rb)
    shape = layout.scale_shape
    return Encoded(codes.reshape(x.shape), None if f.scale_rule == "absmax" else X.to(torch.int32).reshape(shape),
                   mult.reshape(shape), f.name, layout, x.dtype, rounding, overflow)


def _out_dtype(dtype, in_dtype):
    if dtype is not None:
        return dtype
    return torch.float64 if in_dtype == torch.float64 else torch.float32


def decode(enc: Encoded, dtype=torch.float32) -> torch.Tensor:
    """Values of the codes times their scales, rounded once to dtype (default float32, as
    rf8lab.decode)."""
    f = get_format(enc.fmt)
    codes = enc.codes.reshape(-1).to(torch.int64)
    vt = _values(f.name, codes.device)
    # one table of 256 values per scale group, rounded once to the output dtype, then one gather
    if f.scale_rule == "absmax":
        tables = vt[None, :] * enc.scale.reshape(-1, 1).to(torch.float64)
    else:
        tables = torch.ldexp(vt[None, :], enc.scale_exp.reshape(-1, 1).to(torch.float64))
    tables = tables.to(dtype).reshape(-1)
    gid = _group_index(enc.layout, codes.device)
    return tables[codes if gid is None else gid * 256 + codes].reshape(enc.codes.shape)


def quantize(x: torch.Tensor, fmt: str = "rf8", *, rounding="nearest", scale="auto", overflow="saturate", axis=None,
             block=None, random_bits=None, dtype=None) -> torch.Tensor:
    """x rounded onto fmt's grid: decode(encode(x, ...)) in float64 for float64 input, float32
    otherwise, or dtype (as rf8lab.quantize)."""
    return decode(encode(x, fmt, rounding=rounding, scale=scale, overflow=overflow, axis=axis, block=block,
                         random_bits=random_bits), _out_dtype(dtype, x.dtype))
