"""DeepShape and magnitude pruning: post-training edits of a parameter dict.

DeepShape (arXiv:2506.00486, and the authors' code on huggingface.co/spaces/shifeng3711/gg_prior) is
rank-preserving histogram specification toward a narrower GG, after which a few steps of ordinary
fine-tuning recover the loss:
1. round the weights to a grid of step `step` (integer levels);
2. the core is the range of levels between the lowest and highest whose count exceeds
   `core_frac` of the values; values outside it (the tails) are left as they were;
3. fit a GG (mu, nu, alpha) to the core values (moment ratio);
4. target GG(mu, a*nu, b*alpha) on the core's levels: N_core * P(level) values per level, rounded
   down and the remaining values given to the levels with the largest remainders;
5. the core values, sorted, fill the levels in order.
6. write back level * step.

The authors' code rounds every count down and lets the values left over keep their own level; at
the top of the core those can then sit below values that were moved up, so it is not quite rank
preserving. Largest-remainder rounding assigns every core value and keeps the order exactly.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..gg import scale_for_variance
from ..nn.model import weight_names
from .backslash import estimate_shape


def _shape_one(w: np.ndarray, step: float, core_frac: float, a: float, b: float) -> tuple[np.ndarray, dict]:
    x = np.asarray(w, np.float64).ravel()
    lev = np.round(x / step).astype(np.int64)
    vals, counts = np.unique(lev, return_counts=True)
    big = vals[counts > core_frac * x.size]
    out = x.copy()
    if big.size < 3:
        return out.reshape(np.shape(w)), {"core": 0, "nu": float("nan"), "moved": 0}
    lo, hi = int(big.min()), int(big.max())
    core = np.flatnonzero((lev >= lo) & (lev <= hi))
    xc = x[core]
    mu = float(np.mean(xc))
    nu = estimate_shape(xc - mu, "moments")
    alpha = float(scale_for_variance(nu, np.mean((xc - mu) ** 2)))
    target = stats.gennorm(a * nu, loc=mu, scale=b * alpha)
    levels = np.arange(lo, hi + 1)
    edges = (np.append(levels, hi + 1) - 0.5) * step
    P = np.diff(target.cdf(edges))
    exact = xc.size * P / P.sum()
    want = np.floor(exact).astype(np.int64)
    short = xc.size - int(want.sum())  # largest remainders get one more, so every core value gets a level
    want[np.argsort(-(exact - want), kind="stable")[:short]] += 1
    order = np.argsort(xc, kind="stable")
    newlev = np.empty(xc.size, np.int64)
    newlev[order] = np.repeat(levels, want)  # sorted values fill the levels in order
    out[core] = newlev * step
    return out.reshape(np.shape(w)), {"core": int(xc.size), "nu": nu, "alpha": alpha,
                                      "moved": int(np.sum(newlev != lev[core]))}


def deepshape(params: dict, step: float = 2.0 ** -13, core_frac: float = 1e-4, a: float = 0.8, b: float = 0.6,
              pooled: bool = True, include: str = "2d") -> tuple[dict, dict]:
    """DeepShape the weights (2-D parameters, or all with include="all"); returns (new params,
    info). pooled: one histogram over all selected weights (the authors' code), else one per tensor."""
    for name, v in (("step", step), ("a", a), ("b", b)):
        if not v > 0:
            raise ValueError(f"DeepShape {name} must be > 0, got {v!r}")
    if not 0 <= core_frac < 1:
        raise ValueError(f"core_frac is a fraction of the values, in [0, 1); got {core_frac!r}")
    names = weight_names(params, include)
    out = {k: v.copy() for k, v in params.items()}
    if pooled:
        flat = np.concatenate([params[k].ravel() for k in names])
        new, info = _shape_one(flat, step, core_frac, a, b)
        i = 0
        for k in names:
            n = params[k].size
            out[k] = new[i:i + n].reshape(params[k].shape).astype(params[k].dtype)
            i += n
        return out, {"pooled": info}
    info = {}
    for k in names:
        new, info[k] = _shape_one(params[k], step, core_frac, a, b)
        out[k] = new.astype(params[k].dtype)
    return out, info


def prune(params: dict, fraction: float, scope: str = "global", include: str = "2d") -> dict:
    """Zero the smallest-magnitude `fraction` of the weights, over all selected weights at once
    (scope="global") or within each tensor (scope="tensor"). Returns a new dict."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"pruning fraction must be in [0, 1], got {fraction!r}")
    if scope not in ("global", "tensor"):
        raise ValueError(f"scope must be 'global' or 'tensor', got {scope!r}")
    names = weight_names(params, include)
    out = {k: v.copy() for k, v in params.items()}
    if fraction == 0:
        return out
    if scope == "global":
        mags = np.concatenate([np.abs(params[k]).ravel() for k in names])
        kth = int(np.floor(fraction * mags.size))
        if kth == 0:
            return out
        order = np.argsort(mags, kind="stable")[:kth]
        mask = np.ones(mags.size, bool)
        mask[order] = False
        i = 0
        for k in names:
            n = params[k].size
            out[k] = out[k] * mask[i:i + n].reshape(params[k].shape)
            i += n
    else:
        for k in names:
            m = np.abs(params[k]).ravel()
            kth = int(np.floor(fraction * m.size))
            keep = np.ones(m.size, bool)
            keep[np.argsort(m, kind="stable")[:kth]] = False
            out[k] = out[k] * keep.reshape(params[k].shape)
    return out


def sparsity(params: dict, include: str = "2d") -> float:
    names = weight_names(params, include)
    return float(sum(int((params[k] == 0).sum()) for k in names) / sum(params[k].size for k in names))
