"""The few places where numpy and torch spell an array operation differently, so that vectorized
rules (rf8lab/scale_rule.py) are written once for both. Everything else they share: operators,
comparisons, `.view(dtype)` of a bit pattern, broadcasting."""
from __future__ import annotations

import sys

import numpy as np


class NumpyOps:
    int64, float64 = np.int64, np.float64
    where = staticmethod(np.where)
    clip = staticmethod(np.clip)

    @staticmethod
    def astype(a, dtype):
        return a.astype(dtype)

    @staticmethod
    def exp2(X):
        """2^X as float64 for an int64 array (exact; 0 or inf outside float64's range)."""
        return np.ldexp(1.0, X)


class TorchOps:
    def __init__(self, torch):
        self.torch = torch
        self.int64, self.float64 = torch.int64, torch.float64
        self.where, self.clip = torch.where, torch.clamp

    def astype(self, a, dtype):
        return a.to(dtype)

    def exp2(self, X):
        return self.torch.ldexp(self.torch.ones_like(X, dtype=self.float64), X.to(self.float64))


def ops(a):
    """The operations for `a`'s library: numpy arrays, or torch tensors (on any device)."""
    if isinstance(a, np.ndarray):
        return NumpyOps
    torch = sys.modules.get("torch")  # a tensor means torch is imported already
    if torch is not None and isinstance(a, torch.Tensor):
        return TorchOps(torch)
    raise TypeError(f"expected a numpy array or a torch tensor, got {type(a).__name__}")
