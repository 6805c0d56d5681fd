"""Vectorized exact reference for float32 (and narrower) inputs, at X = 0.

Independent of the kernels' tables and constants: nearest by binary search on the grid with exact
midpoint comparisons, log by integer arithmetic on the 24-bit mantissa. Used by
analysis/verify_exhaustive.py over all 2^32 float32 patterns, and tested against reference.py.
"""
import numpy as np

from . import api as rl


def _ext(fmt):
    info = rl.format_info(fmt)
    return np.array([float(m) for m in info.magnitudes] + [float(info.next_up)]), len(info.magnitudes)


def nearest_magnitude(a: np.ndarray, fmt: str) -> np.ndarray:
    """Nearest extended-grid magnitude of float64 a >= 0 (exact: lo + hi and 2a are exact);
    returns the value, inf for overflow."""
    ext, n = _ext(fmt)
    i = np.clip(np.searchsorted(ext, a, side="right") - 1, 0, n)
    j = np.minimum(i + 1, n)
    lo, hi = ext[i], ext[j]
    twice = 2 * a
    up = (twice > lo + hi) | ((twice == lo + hi) & (i % 2 == 1))
    r = np.where((i >= n) | (a >= ext[n]), n, np.where(up & (a != lo), j, i))
    return np.where(r >= n, np.inf, ext[np.minimum(r, n - 1)])


def log_magnitude(x: np.ndarray) -> np.ndarray:
    """RF8 log rounding of float32 |x| by integer arithmetic: a = M * 2^q with M < 2^24, and
    'a^2 > 2^(2n+1)' becomes M^2 > 2^(2n+1-2q), exact in int64. Returns the unbounded value."""
    a = np.abs(x.astype(np.float64))
    m, e = np.frexp(a)                      # a = m 2^e, m in [0.5, 1)
    M = (m * 2 ** 24).astype(np.int64)      # exact: float32 has 24 bits
    q = e.astype(np.int64) - 24

    def lead(Mv, qv):
        n = np.floor(np.log2(np.maximum(Mv, 1))).astype(np.int64)  # bit length - 1, exact for ints < 2^53
        n = np.where((1 << np.minimum(n + 1, 62)) <= Mv, n + 1, n)
        n = np.where((1 << n) > Mv, n - 1, n)
        # compare Mv^2 with 2^(2(n+qv)+1 - 2qv) = 2^(2n+1)
        above = Mv * Mv > (np.int64(1) << np.minimum(2 * n + 1, 62))
        return n + qv + above

    e1 = lead(M, q)
    # r = a - 2^e1 = (M - 2^(e1-q)) 2^q, an integer multiple of 2^q; e1 - q <= 25
    R = M - (np.int64(1) << np.clip(e1 - q, 0, 62))
    e2 = lead(np.abs(R), q)
    keep = (R != 0) & (e1 - e2 <= 4)
    val = np.ldexp(1.0, e1) + np.where(keep, np.sign(R) * np.ldexp(1.0, e2), 0.0)
    return np.where(a == 0, 0.0, val)


def window(v: np.ndarray, fmt: str = "rf8") -> np.ndarray:
    """Place an unbounded log result in the X = 0 window: flush below min, inf above max."""
    info = rl.format_info(fmt)
    return np.where(v < float(info.min_positive), 0.0, np.where(v > float(info.max), np.inf, v))
