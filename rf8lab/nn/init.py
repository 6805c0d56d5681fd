"""Weight initializations: generalized Gaussian (the paper's GG init) and the usual baselines.

Every 2-D parameter (linear weights, stored (out, in) as in torch, and embedding tables) is drawn;
LayerNorm gains are set to 1, biases and the ViT class token to 0. Fans follow torch's convention
for a 2-D tensor: fan_in = shape[1], fan_out = shape[0]. The authors' code uses shape[0] of each
torch weight, which for nn.Linear is the fan-out: `fan="out"` reproduces it, `fan="in"` (default)
is the usual Kaiming/LeCun choice.
"""
from __future__ import annotations

import math

import numpy as np

from ..gg import gg, scale_for_variance

METHODS = ("normal", "xavier", "kaiming", "gg")


def _fan(w: np.ndarray, fan: str) -> int:
    if fan not in ("in", "out"):
        raise ValueError(f"fan must be 'in' or 'out', got {fan!r}")
    return w.shape[1] if fan == "in" else w.shape[0]


def _fill(params: dict, draw) -> dict:
    """Apply draw(name, array) -> values to every 2-D parameter; 1-D: gains 1, the rest 0."""
    for name, w in params.items():
        if w.ndim == 2:
            w[...] = draw(name, w)
        elif name.endswith(".weight"):  # the only 1-D weights are LayerNorm gains
            w[...] = 1.0
        else:
            w[...] = 0.0
    return params


def gg_init(params: dict, shape: float = 2.0, xi: float = 2.0, fan: str = "in", rng=None) -> dict:
    """In place: every 2-D weight ~ GG(shape nu, scale alpha) with Var = xi / fan for any nu
    (alpha = sqrt(xi / fan * Gamma(1/nu) / Gamma(3/nu))). xi = 2 matches ReLU-like layers (Kaiming),
    1 linear ones. Returns params."""
    if not shape > 0:
        raise ValueError(f"GG shape must be > 0, got {shape!r}")
    if not xi > 0:
        raise ValueError(f"xi must be > 0, got {xi!r}")
    r = np.random.default_rng(rng)  # a Generator is returned as it is

    def draw(name, w):
        d = gg(shape, scale_for_variance(shape, xi / _fan(w, fan)))
        return d.rvs(w.shape, random_state=r)

    return _fill(params, draw)


def normal_init(params: dict, std: float = 0.02, rng=None) -> dict:
    """GPT-2's init: every 2-D weight ~ N(0, std^2)."""
    r = np.random.default_rng(rng)  # a Generator is returned as it is
    return _fill(params, lambda name, w: r.normal(0.0, std, w.shape))


def xavier_init(params: dict, gain: float = 1.0, rng=None) -> dict:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    r = np.random.default_rng(rng)  # a Generator is returned as it is
    return _fill(params, lambda name, w: r.uniform(-1, 1, w.shape) * gain * math.sqrt(6.0 / (w.shape[0] + w.shape[1])))


def kaiming_init(params: dict, xi: float = 2.0, fan: str = "in", rng=None) -> dict:
    """He normal: N(0, xi / fan)."""
    r = np.random.default_rng(rng)  # a Generator is returned as it is
    return _fill(params, lambda name, w: r.normal(0.0, math.sqrt(xi / _fan(w, fan)), w.shape))


def initialize(params: dict, method: str = "normal", rng=None, **kw) -> dict:
    """Dispatch by name: 'normal' (std=0.02), 'xavier', 'kaiming' (xi, fan), 'gg' (shape, xi, fan)."""
    fns = {"normal": normal_init, "xavier": xavier_init, "kaiming": kaiming_init, "gg": gg_init}
    if method not in fns:
        raise ValueError(f"init method {method!r} is not one of {METHODS}")
    return fns[method](params, rng=rng, **kw)
