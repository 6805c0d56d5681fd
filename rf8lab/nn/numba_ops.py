"""Numba kernels for the elementwise and row-wise work of a transformer step.

Matrix products stay in numpy (BLAS). Everything here is one pass over memory where numpy would
need several (softmax, cross-entropy and GELU are each one kernel). The kernels are serial on
purpose: OpenBLAS's worker threads keep spinning for a while after each product, and a parallel
Numba region started in that window fights them for the cores (measured: 5 ms lost per call on 2
cores, 14x slower steps). Serial loops also make results independent of the thread count. Each
kernel compiles for float32 and float64; row statistics accumulate in float64.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

# Reassociation lets LLVM vectorize the row sums (still one fixed order for a given machine); no
# "nnan"/"ninf": masked scores are -inf on purpose.
_REASSOC = {"reassoc", "contract", "nsz", "arcp"}
_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def layernorm_forward(x, g, b, eps, y, xhat, rstd):
    """Rows of x (n, d): xhat = (x - mean) / sqrt(var + eps), y = xhat * g + b."""
    n, d = x.shape
    for i in range(n):
        m = 0.0
        for j in range(d):
            m += x[i, j]
        m /= d
        v = 0.0
        for j in range(d):
            t = x[i, j] - m
            v += t * t
        r = 1.0 / math.sqrt(v / d + eps)
        rstd[i] = r
        for j in range(d):
            h = (x[i, j] - m) * r
            xhat[i, j] = h
            y[i, j] = h * g[j] + b[j]


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def layernorm_backward(dy, xhat, rstd, g, dx):
    """dx of layernorm for each row: rstd * (dxh - mean(dxh) - xhat * mean(dxh * xhat)), dxh = dy * g."""
    n, d = dy.shape
    for i in range(n):
        s1 = 0.0
        s2 = 0.0
        for j in range(d):
            t = dy[i, j] * g[j]
            s1 += t
            s2 += t * xhat[i, j]
        s1 /= d
        s2 /= d
        r = rstd[i]
        for j in range(d):
            dx[i, j] = r * (dy[i, j] * g[j] - s1 - xhat[i, j] * s2)


# ---- exp and erf: libm in float64, vectorizable approximations in float32 -----------------------
# A call to libm inside a loop stops LLVM from vectorizing it, which made exp and erf most of a
# float32 step. float32 gets polynomial versions instead (errors measured against float64 libm over
# their whole range: exp 3.0e-7 relative, erf 3.3e-7 absolute); float64 keeps libm, so the float64
# gradient checks compare exact functions.
def fexp(x):
    return math.exp(x)


def ferf(x):
    return math.erf(x)


_F = np.float32
_LOG2E, _LN2_HI, _LN2_LO = _F(1.4426950408889634), _F(0.693359375), _F(-2.12194440e-4)
_E0, _E1, _E2, _E3, _E4, _E5 = (_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                                4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_POW2 = np.array([2.0 ** e for e in range(-126, 128)], np.float32)  # 2^n at index n + 126
# erf: Eigen's rational approximation (odd / even polynomials in x^2, |x| clamped to 4)
_P1, _P3, _P5, _P7, _P9, _P11, _P13 = (_F(c) for c in (
    -1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05,
    -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10))
_Q0, _Q2, _Q4, _Q6, _Q8 = (_F(c) for c in (
    -1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04,
    -1.45660718464996e-05))


@nb.njit(inline="always", error_model="numpy", fastmath=_REASSOC)
def _exp32(x):
    """Cephes' expf: 2^n * exp(r) with |r| <= ln2 / 2, 2^n from a table (a vector gather)."""
    if x < _F(-87.0):
        return _F(0.0)
    x = min(x, _F(88.0))
    n = _F(math.floor(x * _LOG2E + _F(0.5)))
    r = x - n * _LN2_HI - n * _LN2_LO
    p = (((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5) * (r * r) + r + _F(1.0)
    return p * _POW2[np.int32(n) + 126]


@nb.njit(inline="always", error_model="numpy", fastmath=_REASSOC)
def _erf32(x):
    v = min(max(x, _F(-4.0)), _F(4.0))
    v2 = v * v
    p = v * ((((((v2 * _P13 + _P11) * v2 + _P9) * v2 + _P7) * v2 + _P5) * v2 + _P3) * v2 + _P1)
    q = (((v2 * _Q8 + _Q6) * v2 + _Q4) * v2 + _Q2) * v2 + _Q0
    return p / q


@nb.extending.overload(fexp)
def _fexp(x):
    if x == nb.types.float32:
        return lambda x: _exp32(x)
    return lambda x: math.exp(x)


@nb.extending.overload(ferf)
def _ferf(x):
    if x == nb.types.float32:
        return lambda x: _erf32(x)
    return lambda x: math.erf(x)


# ---- GELU, softmax, cross-entropy ----------------------------------------------------------------
@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def gelu_forward(h, y, dydh):
    """y = h * Phi(h) (the exact, erf form of GELU) and its derivative Phi(h) + h * phi(h), kept
    for the backward pass so that it is one multiply; elementwise over flat arrays."""
    half, sq, isq = h.dtype.type(0.5), h.dtype.type(_SQRT_HALF), h.dtype.type(_INV_SQRT_2PI)
    for i in range(h.size):
        x = h[i]
        c = half * (h.dtype.type(1.0) + ferf(x * sq))
        y[i] = x * c
        dydh[i] = c + x * isq * fexp(-half * x * x)


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def softmax_forward(s, scale, causal, p):
    """Attention probabilities from score rows s (B*H*T, T), row r being query r % T: softmax of
    scale * s over the visible keys (all, or keys <= r % T when causal; padded keys arrive as -inf
    in s), 0 for the others."""
    n, T = s.shape
    sc = s.dtype.type(scale)
    for r in range(n):
        hi = r % T + 1 if causal else T
        m = s[r, 0]
        for j in range(1, hi):
            m = max(m, s[r, j])
        z = 0.0
        for j in range(hi):
            e = fexp((s[r, j] - m) * sc)
            p[r, j] = e
            z += e
        inv = s.dtype.type(1.0 / z)
        for j in range(hi):
            p[r, j] *= inv
        for j in range(hi, T):
            p[r, j] = 0.0


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def softmax_backward(dp, p, scale, ds):
    """Gradient with respect to the raw score rows: scale * p * (dp - sum(dp * p))."""
    n, T = p.shape
    for r in range(n):
        c = 0.0
        for j in range(T):
            c += dp[r, j] * p[r, j]
        for j in range(T):
            ds[r, j] = scale * p[r, j] * (dp[r, j] - c)


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def cross_entropy(logits, targets, dlogits):
    """Per-row loss -log softmax(logits)[target] and, into dlogits, (softmax - onehot) / n."""
    n, V = logits.shape
    loss = np.empty(n, np.float64)
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, V):
            m = max(m, logits[i, j])
        z = 0.0
        for j in range(V):
            e = fexp(logits[i, j] - m)
            dlogits[i, j] = e
            z += e
        r = logits.dtype.type(1.0 / (z * n))
        for j in range(V):
            dlogits[i, j] *= r
        dlogits[i, targets[i]] -= 1.0 / n
        loss[i] = math.log(z) + m - logits[i, targets[i]]
    return loss


@nb.njit(cache=True, nogil=True, error_model="numpy")
def embedding_backward(idx, dx, dw):
    """dw[idx[i]] += dx[i], serially so that repeated indices add in a fixed order."""
    n, d = dx.shape
    for i in range(n):
        r = idx[i]
        for j in range(d):
            dw[r, j] += dx[i, j]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def adamw_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bc1, bc2):
    """torch.optim.AdamW's update, elementwise and in place (bc1, bc2: the bias corrections)."""
    sq2 = math.sqrt(bc2)
    for i in range(p.size):
        p[i] *= 1.0 - lr * weight_decay
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
        p[i] -= (lr / bc1) * m[i] / (math.sqrt(v[i]) / sq2 + eps)
