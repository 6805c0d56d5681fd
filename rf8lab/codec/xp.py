"""The few places where numpy and torch spell an array operation differently, so that the vectorized
rules (rf8lab/codec/scale_rule.py, rf8lab/codec/vectorized.py) are written once for both. Everything else they
share: operators, comparisons, indexing with integer arrays, `.view(dtype)` of a bit pattern."""
from __future__ import annotations

import sys

import numpy as np


def _float32_round_to_odd(f, v, bits, finite):
    """f = v rounded to float32 (nearest), bits its pattern as a signed 32-bit integer: the pattern of v
    rounded to odd instead (toward zero, then the last bit set if inexact). A cast from there to a
    16-bit float rounds once from v: round-to-odd keeps 29 more bits than those formats have."""
    back, mag = abs(f), abs(v)
    away = finite & (back > mag)  # rounded away from zero: one step back (sign-magnitude: pattern - 1)
    bits = bits - away * 1
    return bits | (finite & (back != mag)) * 1


_SAME = ("abs", "sign", "floor", "signbit", "isfinite", "isinf", "isnan", "where", "copysign",
         "full_like", "zeros_like")  # one name in both


class NumpyOps:
    int64, float64, uint8 = np.int64, np.float64, np.uint8
    clip = staticmethod(np.clip)

    @staticmethod
    def astype(a, dtype):
        return np.asarray(a).astype(dtype)

    @staticmethod
    def exp2(X):
        """2^X as float64 for an int64 array (exact; 0 or inf outside float64's range)."""
        return np.ldexp(1.0, X)

    @staticmethod
    def ldexp(m, k):
        return np.ldexp(m, k)

    @staticmethod
    def searchsorted_right(table, a):
        return np.searchsorted(table, a, side="right")

    @staticmethod
    def asarray(table: np.ndarray, like):
        return table

    @staticmethod
    def broadcast_to(a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def narrow(v, dtype):
        """float64 v cast to dtype, rounded once (a direct cast, except to 16-bit floats: through float32
        rounded to odd, where numpy casts bfloat16 through float32 rounded to nearest in ml_dtypes <= 0.6)."""
        dtype = np.dtype(dtype)
        if dtype.itemsize != 2:
            return np.asarray(v).astype(dtype)
        v = np.asarray(v, np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is the cast's answer
            f = v.astype(np.float32)
            bits = _float32_round_to_odd(f.astype(np.float64), v, f.view(np.int32), np.isfinite(v))
            return bits.astype(np.int32).view(np.float32).astype(dtype)

    @staticmethod
    def group_max(v, gid, ngroups: int):
        """Per group, the largest of v (float64; groups without elements get -1)."""
        out = np.full(ngroups, -1.0)
        np.maximum.at(out, gid, v)
        return out


for _name in _SAME:
    setattr(NumpyOps, _name, staticmethod(getattr(np, _name)))


class TorchOps:
    def __init__(self, torch):
        self.torch = torch
        self.int64, self.float64, self.uint8 = torch.int64, torch.float64, torch.uint8
        self.clip = torch.clamp
        for name in _SAME:
            setattr(self, name, getattr(torch, name))

    def astype(self, a, dtype):
        return a.to(dtype)

    def exp2(self, X):
        return self.ldexp(self.torch.ones_like(X, dtype=self.float64), X)

    def ldexp(self, m, k):
        """m * 2^k rounded once, as numpy's ldexp. torch.ldexp multiplies by 2^k computed in float64,
        which underflows or overflows for |k| > 1023; two steps of k/2 keep every factor in range and
        the first product exact."""
        k = self.torch.as_tensor(k, device=m.device)
        half = self.torch.div(k, 2, rounding_mode="floor")
        return self.torch.ldexp(self.torch.ldexp(m, half.to(self.float64)), (k - half).to(self.float64))

    def searchsorted_right(self, table, a):
        return self.torch.searchsorted(table, a.contiguous(), right=True)

    def asarray(self, table: np.ndarray, like):
        return self.torch.from_numpy(table).to(like.device)

    def broadcast_to(self, a, shape):
        return a.expand(shape)

    def narrow(self, v, dtype):
        """As NumpyOps.narrow: torch casts float64 to float16 and bfloat16 through float32."""
        if dtype not in (self.torch.float16, self.torch.bfloat16):
            return v.to(dtype)
        f = v.to(self.torch.float32)
        bits = _float32_round_to_odd(f.to(self.float64), v, f.view(self.torch.int32), self.torch.isfinite(v))
        return bits.to(self.torch.int32).view(self.torch.float32).to(dtype)

    def group_max(self, v, gid, ngroups: int):
        out = self.torch.full((ngroups,), -1.0, dtype=v.dtype, device=v.device)
        return out.scatter_reduce(0, gid, v, reduce="amax", include_self=True)


_TORCH_OPS: list = []


def ops(a):
    """The operations for `a`'s library: numpy arrays, or torch tensors (on any device)."""
    if isinstance(a, (np.ndarray, np.generic)):
        return NumpyOps
    torch = sys.modules.get("torch")  # a tensor means torch is imported already
    if torch is not None and isinstance(a, torch.Tensor):
        if not _TORCH_OPS:
            _TORCH_OPS.append(TorchOps(torch))
        return _TORCH_OPS[0]
    raise TypeError(f"expected a numpy array or a torch tensor, got {type(a).__name__}")
