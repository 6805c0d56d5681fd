"""Ranking Gaussian, Laplace, generalized Gaussian and Student-t fits of the same data.

Every model is fitted by maximum likelihood with the location fixed (0 by default, as for weights)
to the same values: the finite nonzero ones, since exact zeros make the GG likelihood unbounded.
Models are ranked by AIC (with BIC, Akaike weights, the KS statistic and the KL divergence of the
binned data from the model beside it), not by p-values: at n >= 1e5 every test rejects every model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ..codec.api import as_input
from .fitting import fit_counts

MODELS = ("gaussian", "laplace", "gg", "student_t")


def _t_fit(y2: np.ndarray, w: np.ndarray, s0: float):
    """Student-t (df, scale) by maximum likelihood with loc 0, from the squared data and their counts w;
    s0 starts the scale."""
    n = w.sum()

    def nll(p):
        df, s = np.exp(p)
        ll = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * np.log(df * np.pi) - np.log(s)) * n
        return -(ll - (df + 1) / 2 * (w * np.log1p(y2 / (df * s * s))).sum())

    best = min((optimize.minimize(nll, [np.log(d), np.log(s0)], method="Nelder-Mead",
                                  options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 2000})
                for d in (2.0, 10.0)), key=lambda r: r.fun)
    df, s = np.exp(best.x)
    return stats.t(df, 0.0, s), -best.fun, {"df": df, "scale": s}  # the frozen t at loc 0


def _quantile(v: np.ndarray, cum: np.ndarray, q: float) -> float:
    """numpy's default (linear) quantile of sorted values v repeated by their counts (cumulative: cum)."""
    n = int(cum[-1])
    h = (n - 1) * q
    j = int(np.floor(h))
    a, b = v[np.searchsorted(cum, [j, min(j + 1, n - 1)], side="right")]
    return float(a + (h - j) * (b - a))


def _fits(x: np.ndarray, w: np.ndarray, loc: float, s0: float):
    y = x - loc
    n = w.sum()
    y2 = y * y
    sigma = np.sqrt((w * y2).sum() / n)
    out = {"gaussian": (stats.norm(loc, sigma), (w * stats.norm(loc, sigma).logpdf(x)).sum(), {"sigma": sigma})}
    b = (w * np.abs(y)).sum() / n
    out["laplace"] = (stats.laplace(loc, b), -n * (np.log(2 * b) + 1), {"b": b})
    g = fit_counts(x, w, loc=loc)
    out["gg"] = (stats.gennorm(g.shape, loc, g.scale), g.loglik,
                 {"shape": g.shape, "scale": g.scale, "shape_se": g.shape_se})
    _, ll, p = _t_fit(y2, w, s0)
    out["student_t"] = (stats.t(p["df"], loc, p["scale"]), ll, p)
    return out


def compare(x, loc: float = 0.0, bins: int = 200, counts=None) -> pd.DataFrame:
    """One row per model, best first: parameters, log-likelihood, AIC, BIC, dAIC, Akaike weight,
    KS statistic and KL(binned data || model) in nats (bins equal-width over the central 99.9%).
    With `counts`, x holds distinct values and counts how often each occurs (a histogram, e.g. gg.distinct
    of a bfloat16 tensor): the same result as on the values repeated, read in one pass over the histogram."""
    x = as_input(x).astype(np.float64).ravel()
    if counts is None:
        x, w = np.unique(x, return_counts=True)
    else:
        w = np.asarray(counts)
        if w.shape != x.shape or (w.size and (w.min() < 0 or not np.array_equal(w, np.round(w)))):
            raise ValueError(f"counts must be non-negative whole numbers, one per value; got shape {w.shape}")
        order = np.argsort(x, kind="stable")
        x, w = x[order], w[order]
    if not np.isfinite(x[w > 0]).all():
        raise ValueError("compare needs finite data; remove NaN and inf first")
    keep = (x != loc) & (w > 0)
    x, w = x[keep], w[keep].astype(np.float64)
    n = int(w.sum())
    if n < 8:
        raise ValueError(f"compare needs at least 8 nonzero values; got {n}")
    cum = np.cumsum(w)
    ecdf_hi, ecdf_lo = cum / n, (cum - w) / n
    lo, hi = _quantile(x, cum, 0.0005), _quantile(x, cum, 0.9995)
    edges = np.linspace(lo, hi, bins + 1)
    binned = np.histogram(x, edges, weights=w)[0]
    p_emp = binned / binned.sum()
    y2 = (x - loc) ** 2
    order = np.argsort(y2, kind="stable")
    s0 = np.sqrt(_quantile(y2[order], np.cumsum(w[order]), 0.5)) / 0.6745  # the t fit's start: median |y|
    rows = []
    for name, (dist, ll, params) in _fits(x, w, loc, s0).items():
        k = 1 if name in ("gaussian", "laplace") else 2
        F = dist.cdf(x)
        ks = max(np.max(ecdf_hi - F), np.max(F - ecdf_lo))
        q = np.diff(dist.cdf(edges))
        q = q / q.sum()
        m = p_emp > 0
        kl = float(np.sum(p_emp[m] * np.log(p_emp[m] / np.maximum(q[m], 1e-300))))
        rows.append({"model": name, "params": {k_: float(v) for k_, v in params.items()}, "k": k, "loglik": float(ll),
                     "aic": 2 * k - 2 * ll, "bic": k * np.log(n) - 2 * ll, "ks": float(ks), "kl": kl, "n": n})
    df = pd.DataFrame(rows)
    df["d_aic"] = df["aic"] - df["aic"].min()
    wgt = np.exp(-0.5 * df["d_aic"])
    df["akaike_weight"] = wgt / wgt.sum()
    df = df.sort_values(["d_aic", "kl"]).reset_index(drop=True)
    return df[["model", "params", "k", "n", "loglik", "aic", "bic", "d_aic", "akaike_weight", "ks", "kl"]]
