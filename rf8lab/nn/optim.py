"""AdamW (torch's update, decoupled weight decay), global-norm gradient clipping, and a linear
warmup + cosine learning-rate schedule."""
from __future__ import annotations

import math

import numpy as np

from . import numba_ops


def decays(name: str, w: np.ndarray) -> bool:
    """Weight decay applies to 2-D weights (matrices, embeddings), not to gains and biases."""
    return w.ndim == 2


class AdamW:
    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict, lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        self.t += 1
        b1, b2 = self.betas
        bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for k, p in self.params.items():
            wd = self.weight_decay if decays(k, p) else 0.0
            g = np.ascontiguousarray(grads[k], dtype=p.dtype)
            numba_ops.adamw_update(p.reshape(-1), g.reshape(-1), self.m[k].reshape(-1), self.v[k].reshape(-1),
                           lr, b1, b2, self.eps, wd, bc1, bc2)

    def state_arrays(self) -> dict:
        return {**{f"adam.m.{k}": v for k, v in self.m.items()}, **{f"adam.v.{k}": v for k, v in self.v.items()}}

    def load_state_arrays(self, arrays: dict, t: int) -> None:
        for k in self.params:
            self.m[k][...] = arrays[f"adam.m.{k}"]
            self.v[k][...] = arrays[f"adam.v.{k}"]
        self.t = t


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients in place so that their global L2 norm is at most max_norm (as torch's
    clip_grad_norm_); returns the norm before clipping."""
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if max_norm and total > max_norm:
        c = max_norm / (total + 1e-6)
        for g in grads.values():
            g *= c
    return total


def lr_at(step: int, lr: float, warmup: int, total: int, min_ratio: float = 0.1) -> float:
    """Learning rate at step (0-based): linear warmup to lr over `warmup` steps, then a cosine decay
    to min_ratio * lr at step `total`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))
