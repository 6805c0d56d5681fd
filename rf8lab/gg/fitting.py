"""Fitting a generalized Gaussian: maximum likelihood by profile Newton, and the moment-ratio rule.

With y = |x - mu| > 0 (n values; exact zeros are excluded and counted: they make the likelihood
unbounded as nu -> 0), S_k = sum y^nu ln^k y and normalized data (divided by their RMS):

    alpha(nu) = (nu S0 / n)^(1/nu)
    l_p(nu)   = ln nu - ln 2 - lnGamma(1/nu) - (1 + ln(nu S0 / n)) / nu        (per sample)
    g(nu)     = nu dl_p/dnu = 1 + psi(1/nu)/nu + ln(nu S0/n)/nu - S1/S0

Root-finding on g from the moment-ratio estimate (Do & Vetterli 2002 use Newton; here Halley's
method, whose third sum costs nothing extra in the same pass and saves a pass), each step halved
until l_p does not decrease. Many rows (channels) are fitted at once: the sums run in a Numba kernel in
parallel over rows, the Newton updates are vectorized over rows in numpy.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import asdict, dataclass

import numba as nb
import numpy as np
from scipy import optimize, special

from ..codec.api import as_input, decode
from ..codec.encoded import Encoded
from .dist import GG

NU_MIN, NU_MAX = 0.02, 50.0
MIN_N = 8


CHUNK = 1 << 15  # elements per parallel task: one long row still uses every core


@nb.njit(inline="always", cache=True)
def _piece(q, nch, m):
    """Row and element range of parallel task q (rows are cut into chunks of CHUNK)."""
    r, c = q // nch, q % nch
    return r, c * CHUNK, min(m, (c + 1) * CHUNK)


@nb.njit(parallel=True, cache=True)
def _prepare(x, w, loc, logy):
    """logy = ln|x - loc| (NaN for zeros), and per row: weighted count of nonzero values, of zeros,
    of non-finite values, sum of y and y^2, smallest and largest y. w.size == 0 means weight 1."""
    rows, m = x.shape
    nch = (m + CHUNK - 1) // CHUNK
    part = np.zeros((7, rows * nch))
    unit = w.size == 0
    for q in nb.prange(rows * nch):
        r, j0, j1 = _piece(q, nch, m)
        n = nz = bad = s1 = s2 = 0.0
        lo, hi = np.inf, 0.0
        for j in range(j0, j1):
            wt = 1.0 if unit else w[r, j]
            logy[r, j] = np.nan
            if wt == 0:
                continue
            y = abs(np.float64(x[r, j]) - loc)
            if not np.isfinite(y):
                bad += wt
            elif y == 0:
                nz += wt
            else:
                logy[r, j] = np.log(y)
                n += wt
                s1 += wt * y
                s2 += wt * y * y
                lo = min(lo, y)
                hi = max(hi, y)
        part[0, q], part[1, q], part[2, q], part[3, q], part[4, q] = n, nz, bad, s1, s2
        part[5, q], part[6, q] = lo, hi
    return part.reshape(7, rows, nch)


@nb.njit(parallel=True, cache=True)
def _sums(logy, w, nu, shift, active):
    """Per active row: S_k = sum w y^nu ln^k y, k = 0..3, of y = exp(logy - shift), NaN skipped."""
    rows, m = logy.shape
    nch = (m + CHUNK - 1) // CHUNK
    part = np.zeros((4, rows * nch))
    unit = w.size == 0
    for q in nb.prange(rows * nch):
        r, j0, j1 = _piece(q, nch, m)
        if not active[r]:
            continue
        s0 = s1 = s2 = s3 = 0.0
        for j in range(j0, j1):
            ly = logy[r, j]
            if ly == ly:  # not NaN
                ly -= shift[r]
                p = np.exp(nu[r] * ly) if unit else w[r, j] * np.exp(nu[r] * ly)
                s0 += p
                p *= ly
                s1 += p
                p *= ly
                s2 += p
                s3 += p * ly
        part[0, q], part[1, q], part[2, q], part[3, q] = s0, s1, s2, s3
    return part.reshape(4, rows, nch).sum(axis=2)


def _rho(nu):
    """Moment ratio E[y^2] / E[y]^2 of a GG with shape nu."""
    g = special.gammaln
    return np.exp(g(1 / nu) + g(3 / nu) - 2 * g(2 / nu))


def shape_from_moment_ratio(rho):
    """Invert rho(nu), which falls from infinity toward 4/3 (uniform) as nu grows, by bisection in
    log nu over [NU_MIN, NU_MAX]."""
    rho = np.asarray(rho, np.float64)
    lo, hi = np.full(rho.shape, np.log(NU_MIN)), np.full(rho.shape, np.log(NU_MAX))
    for _ in range(60):
        mid = (lo + hi) / 2
        above = _rho(np.exp(mid)) > rho  # rho too large: the shape must grow
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.exp((lo + hi) / 2)


def _halley_step(nu, S, n):
    """Step toward the root of g(nu) = nu dl_p/dnu: Halley's -2 g g' / (2 g'^2 - g g''), from the
    four sums (one data pass), or Newton's / a plain ascent step where Halley's is unsafe."""
    S0, S1, S2, S3 = S
    u, C, L = 1 / nu, S1 / S0, np.log(nu * S0 / n)
    psi, p1, p2 = special.psi(u), special.polygamma(1, u), special.polygamma(2, u)
    g = 1 + psi * u + u * L - C
    g1 = u * u * (-psi - u * p1 + 1 + C / u - L) - S2 / S0 + C * C
    g2 = (4 * u ** 4 * p1 + u ** 5 * p2 + 2 * u ** 3 * psi + 2 * u ** 3 * L - 3 * u ** 3 - 2 * u * u * C
          + u * (S2 / S0 - C * C) - S3 / S0 + 3 * C * S2 / S0 - 2 * C ** 3)
    den = 2 * g1 * g1 - g * g2
    newton = np.where(g1 < 0, -g / np.where(g1 < 0, g1, -1.0), np.sign(g) * 0.25 * nu)
    halley = -2 * g * g1 / np.where(den > 0, den, 1.0)
    step = np.where((g1 < 0) & (den > 0), halley, newton)
    return np.clip(step, -0.5 * nu, nu)


def _profile(nu, S0, n):
    return np.log(nu) - np.log(2) - special.gammaln(1 / nu) - (1 + np.log(nu * S0 / n)) / nu


@dataclass
class FitResult:
    """A GG fit. Scalars for one array; arrays (one entry per row) for fits along an axis."""
    shape: float
    scale: float
    loc: float
    shape_se: float
    scale_se: float
    shape_ci: tuple
    scale_ci: tuple
    loglik: float
    n: int
    n_zero: int
    zero_fraction: float
    method: str
    iterations: int
    converged: bool
    corr_shape_scale: float = float("nan")
    loc_se: float = float("nan")

    def dist(self) -> GG:
        if np.ndim(self.shape):
            raise ValueError("dist() is for a single fit; index the arrays of a per-row fit instead")
        return GG(float(self.shape), float(self.scale), float(self.loc))

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


# ---- data preparation -------------------------------------------------------------------------
_CHUNK = 1 << 20


def distinct(x: np.ndarray):
    """(values float64, counts) of a low-precision array from one bincount over its bit patterns (its exact
    histogram: no float copy of x), or None when the dtype is wider than 16 bits."""
    if x.dtype.kind not in "fV" or x.dtype.itemsize > 2:
        return None
    width = np.uint16 if x.dtype.itemsize == 2 else np.uint8
    bits = np.ascontiguousarray(x).view(width).reshape(-1)
    counts = np.zeros(1 << (8 * x.dtype.itemsize), np.int64)
    for i in range(0, bits.size, _CHUNK):  # bincount widens its input to int64: a chunk at a time
        counts += np.bincount(bits[i:i + _CHUNK], minlength=counts.size)
    nz = np.flatnonzero(counts)
    with np.errstate(invalid="ignore"):
        vals = nz.astype(width).view(x.dtype).astype(np.float64)
    return vals, counts[nz].astype(np.float64)


def _fit_rows(x, w, loc, method: str, rows: bool, max_iter: int = 100) -> "FitResult":
    """Fit each row of x (2-D; weights w, or an empty array for weight 1) about `loc`."""
    logy = np.empty(x.shape, np.float64)
    part = _prepare(x, w, float(loc), logy)
    n, n_zero, bad, s1, s2 = part[:5].sum(axis=2)
    lo, hi = part[5].min(axis=1), part[6].max(axis=1)
    if bad.any():
        raise ValueError(f"cannot fit a GG to data with NaN or inf; found {int(bad.sum())} such values")
    where = (lambda r: f" (row {r})") if rows else (lambda r: "")
    few = np.flatnonzero(n < MIN_N)
    if few.size:
        raise ValueError(f"a GG fit needs at least {MIN_N} finite nonzero values; got {int(n[few[0]])}"
                         + where(few[0]))
    const = np.flatnonzero(lo == hi)
    if const.size:
        raise ValueError("cannot fit a GG to data whose nonzero magnitudes are all equal" + where(const[0]))
    r = np.sqrt(s2 / n)  # RMS: the sums are taken on y / r, which is well scaled
    shift = np.log(r)
    nu = shape_from_moment_ratio(1.0 / (s1 / (n * r)) ** 2)  # E[(y/r)^2] = 1
    its = np.zeros(len(n), np.int64)
    converged = np.full(len(n), method != "mle")
    S = _sums(logy, w, nu, shift, np.ones(len(n), bool))
    while not converged.all() and its.max() < max_iter:
        lp = _profile(nu, S[0], n)
        step = _halley_step(nu, S, n)
        # Halley converges cubically: a proposed step this small means nu is already within about
        # that much of the optimum (a likelihood deficit ~1e-13 relative), so stop here and save
        # the pass that would evaluate it
        converged |= np.abs(step) <= 1e-7 * nu
        todo = ~converged
        if not todo.any():
            break
        cand, Sc = nu.copy(), S.copy()
        for _ in range(40):  # damping: halve until the profile likelihood does not decrease
            cand = np.where(todo, np.clip(nu + step, NU_MIN, NU_MAX), cand)
            Sc = np.where(todo, _sums(logy, w, cand, shift, todo), Sc)  # the next iteration starts here
            worse = todo & ~(_profile(cand, Sc[0], n) >= lp - 1e-15 * np.abs(lp))
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
            todo = worse
        moved = ~converged
        its += moved
        S = np.where(moved, Sc, S)
        nu = np.where(moved, cand, nu)
    S0, S1, S2, _ = S
    if method == "mle":
        a_n = (nu * S0 / n) ** (1 / nu)  # the scale that maximizes the likelihood at this shape
        loglik = n * _profile(nu, S0, n) - n * shift  # back to the data's units
        cov = _covariance(nu, a_n, S0, S1, S2, n)
    else:  # moments: the scale that matches the variance (E[(y/r)^2] = 1); no likelihood-based errors
        a_n = np.exp(0.5 * (special.gammaln(1 / nu) - special.gammaln(3 / nu)))
        loglik = n * (np.log(nu / (2 * a_n)) - special.gammaln(1 / nu)) - S0 / a_n ** nu - n * shift
        cov = np.full((3, len(n)), np.nan)
    res = dict(shape=nu, scale=a_n * r, cov=cov, r=r, loglik=loglik,
               n=n, iterations=its, converged=converged)
    return _result(res, n_zero, loc, method, rows)


def _covariance(nu, a, S0, S1, S2, n):
    """Inverse observed information of (nu, alpha) at the fit (alpha in normalized units)."""
    la = np.log(a)
    T0 = S0 / a ** nu
    T1 = (S1 - S0 * la) / a ** nu
    T2 = (S2 - 2 * S1 * la + S0 * la * la) / a ** nu
    h_aa = n / a ** 2 - nu * (nu + 1) / a ** 2 * T0
    h_nn = -n / nu ** 2 - 2 * n * special.psi(1 / nu) / nu ** 3 - n * special.polygamma(1, 1 / nu) / nu ** 4 - T2
    h_an = T0 / a + nu / a * T1
    det = h_nn * h_aa - h_an ** 2
    return np.stack([-h_aa / det, -h_nn / det, h_an / det])  # var(nu), var(alpha), cov


def _result(res, n_zero, loc, method, rows: bool) -> FitResult:
    z = 1.959963984540054
    var_nu, var_a, cov = res["cov"]
    se_nu = np.sqrt(var_nu)
    se_a = np.sqrt(var_a) * res["r"]
    shape, scale = res["shape"], res["scale"]
    # intervals on the log scale keep both parameters positive
    ci_nu = (shape * np.exp(-z * se_nu / shape), shape * np.exp(z * se_nu / shape))
    ci_a = (scale * np.exp(-z * se_a / scale), scale * np.exp(z * se_a / scale))
    corr = cov / np.sqrt(var_nu * var_a)
    n = res["n"]
    total = n + n_zero
    pick = (lambda a: a) if rows else (lambda a: a[0].item() if isinstance(a, np.ndarray) else a)
    return FitResult(
        shape=pick(shape), scale=pick(scale), loc=pick(np.broadcast_to(loc, shape.shape).astype(float)),
        shape_se=pick(se_nu), scale_se=pick(se_a),
        shape_ci=(pick(ci_nu[0]), pick(ci_nu[1])), scale_ci=(pick(ci_a[0]), pick(ci_a[1])),
        loglik=pick(res["loglik"]), n=pick(n.astype(np.int64)), n_zero=pick(np.asarray(n_zero, np.int64)),
        zero_fraction=pick(n_zero / total), method=method, iterations=pick(res["iterations"]),
        converged=pick(res["converged"]), corr_shape_scale=pick(corr))


def fit(x, loc=0.0, method: str = "mle", axis=None) -> FitResult:
    """Fit GG(shape, scale, loc) to x.

    loc     the location, fixed (default 0.0, right for weights), or None to fit it too (whole-array
            fits only; a bounded 1-D search over the profile likelihood)
    method  "mle" (profile Newton) or "moments" (the moment-ratio rule the authors use: shape from
            E[y^2]/E[y]^2, scale from the variance; its standard errors are NaN, since the
            likelihood-based ones would flatter an estimator that is far less efficient)
    axis    one fit per index along this axis, over all the other axes (the channel axis, as in
            rf8lab.quantize(scale="channel")): axis=0 on a (rows, cols) matrix gives one fit per row;
            the fields of the result are then arrays
    Exact zeros (x == loc) are excluded and counted; NaN or inf raise ValueError, and so does a
    row with fewer than 8 finite nonzero values or with all magnitudes equal.
    Low-precision inputs (float16, bfloat16, float8) are reduced to their distinct values by one
    bincount when axis is None, which gives the same sums exactly and much faster; so are the codes
    of an rf8lab.Encoded with one scale.
    """
    if method not in ("mle", "moments"):
        raise ValueError(f"method must be 'mle' or 'moments'; got {method!r}")
    if isinstance(x, Encoded):
        return _fit_encoded(x, loc, method)
    x = as_input(x)
    if x.size == 0:
        raise ValueError(f"a GG fit needs at least 8 finite nonzero values; got an empty array of shape {x.shape}")
    if not x.dtype.isnative:  # the kernels read native byte order
        x = x.astype(x.dtype.newbyteorder("="))
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, (int, np.integer))):
        raise ValueError(f"axis must be an integer or None; got {axis!r}")
    far = _far_from_one(x)
    if far:  # |x| near float64's limits: fit x * 2^-far (exact), then scale back
        r = fit(x.astype(np.float64) * 2.0 ** -far, None if loc is None else loc * 2.0 ** -far, method, axis)
        unit = 2.0 ** far
        return dataclasses.replace(r, scale=r.scale * unit, loc=r.loc * unit, scale_se=r.scale_se * unit,
                                   scale_ci=tuple(np.multiply(c, unit) for c in r.scale_ci),
                                   loc_se=r.loc_se * unit, loglik=r.loglik - r.n * far * np.log(2.0))
    if loc is None:
        if axis is not None:
            raise ValueError("loc=None (fitting the location) is supported for whole-array fits only")
        return _fit_with_loc(x, method)
    if axis is None:
        dist = distinct(x)
        if dist is not None:
            return _fit_rows(dist[0][None, :], dist[1][None, :], loc, method, rows=False)
        return _fit_rows(np.ascontiguousarray(x).reshape(1, -1), _UNIT, loc, method, rows=False)
    if x.dtype.kind == "V" or x.dtype == np.float16:
        x = x.astype(np.float32)  # exact; the kernels read float32
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis!r} is out of range for an array of {x.ndim} dimension(s)")
    if x.size == 0:
        raise ValueError(f"fit(axis={axis}) needs at least one row of at least 8 values; got shape {x.shape}")
    rows = np.ascontiguousarray(np.moveaxis(x, axis, 0)).reshape(x.shape[axis], -1)
    return _fit_rows(rows, _UNIT, loc, method, rows=True)


_UNIT = np.empty((0, 0))  # "every weight is 1"


def fit_counts(values, counts, loc=0.0, method: str = "mle") -> FitResult:
    """fit() of a histogram: distinct values and how often each occurs, as gg.distinct gives them (the
    same sums as the values repeated)."""
    values = np.asarray(values, np.float64).reshape(1, -1)
    counts = np.asarray(counts, np.float64).reshape(1, -1)
    if values.shape != counts.shape:
        raise ValueError(f"values and counts must have the same size; got {values.size} and {counts.size}")
    return _fit_rows(values, counts, loc, method, rows=False)


def _far_from_one(x: np.ndarray) -> int:
    """The power of two to divide x by when its largest magnitude is beyond 2^±200 (where |x|^nu
    sums overflow or vanish in float64), else 0: ordinary weights are fitted as they are. Two
    reductions, no copy of x; NaN or inf give 0 (the fit refuses them)."""
    if x.dtype != np.float64 or x.size == 0:
        return 0
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN input
        top = max(abs(float(np.nanmax(x))), abs(float(np.nanmin(x))))
    if not math.isfinite(top) or top == 0.0 or 2.0 ** -200 <= top <= 2.0 ** 200:
        return 0
    return int(np.frexp(top)[1])


def _fit_encoded(enc, loc, method) -> FitResult:
    """Fit the decoded values of rf8lab codes from one bincount over the codes (one scale only)."""
    if enc.layout.granularity not in (None, "tensor"):
        raise ValueError("fitting an Encoded needs one scale for the whole tensor; decode it first")
    counts = np.bincount(enc.codes.ravel(), minlength=256)
    nz = np.flatnonzero(counts)
    enc1 = type(enc)(**{**enc.__dict__, "codes": nz.astype(np.uint8),
                        "layout": type(enc.layout)(enc.layout.granularity, (nz.size,))})
    vals = decode(enc1, np.float64)
    return _fit_rows(vals[None, :], counts[nz][None, :].astype(np.float64), 0.0 if loc is None else loc,
                     method, rows=False)


def _fit_with_loc(x, method) -> FitResult:
    """Location by a bounded scalar search of the profile log-likelihood, shape and scale profiled."""
    v = x.astype(np.float64).reshape(1, -1)  # exact for every accepted dtype
    if not np.isfinite(v).all():
        raise ValueError("cannot fit a GG to data with NaN or inf")
    med = float(np.median(v))
    spread = float(np.std(v)) or 1.0

    def neg(mu):
        try:
            return -_fit_rows(v, _UNIT, mu, method, rows=False).loglik
        except ValueError:
            return np.inf

    opt = optimize.minimize_scalar(neg, bounds=(med - 0.5 * spread, med + 0.5 * spread), method="bounded",
                                   options={"xatol": 1e-9 * spread})
    res = _fit_rows(v, _UNIT, float(opt.x), method, rows=False)
    h = 1e-4 * spread  # curvature of the profile in mu: a standard error where the profile is smooth
    curv = (neg(opt.x + h) - 2 * neg(opt.x) + neg(opt.x - h)) / h ** 2
    res.loc_se = float(1 / np.sqrt(curv)) if curv > 0 and res.shape > 1 else float("nan")
    return res
