"""Numba kernels for the elementwise and row-wise work of a transformer step.

Matrix products stay in numpy (BLAS). Everything here is one pass over memory where numpy would
need several. The kernels are serial on purpose: OpenBLAS's worker threads keep spinning for a
while after each product, and a parallel Numba region started in that window fights them for the
cores (measured: 5 ms lost per call on 2 cores, 14x slower steps). Serial loops also make results
independent of the thread count. Each kernel compiles for float32 and float64; row statistics
accumulate in float64.
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@nb.njit(cache=True, error_model="numpy")
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


@nb.njit(cache=True, error_model="numpy")
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


# erf(x) for float32 as a rational function of x (odd / even polynomials in x^2, clamped to
# |x| <= 4, where erf is 1 in float32): the approximation Eigen uses for its vectorized erff.
# Measured here against scipy.special.erf: at most 3.3e-7 absolute error.
_ERF_P = tuple(np.float32(c) for c in (-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04,
                                       -5.69250639462346e-05, -2.10102402082508e-06, 2.77068142495902e-08,
                                       -2.72614225801306e-10))
_ERF_Q = tuple(np.float32(c) for c in (-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03,
                                       -2.13374055278905e-04, -1.45660718464996e-05))
_P1, _P3, _P5, _P7, _P9, _P11, _P13 = _ERF_P
_Q0, _Q2, _Q4, _Q6, _Q8 = _ERF_Q
_F4, _HALF, _ONE = np.float32(4.0), np.float32(0.5), np.float32(1.0)
_SQRT_HALF32, _INV_SQRT_2PI32 = np.float32(_SQRT_HALF), np.float32(_INV_SQRT_2PI)


@nb.njit(cache=True, error_model="numpy", fastmath=True)
def gelu_forward32(h, e, y, dydh):
    """float32 GELU with the rational erf above; e = exp(-h^2 / 2) comes in precomputed (numpy's
    exp is vectorized, a libm call inside this loop would stop it from vectorizing)."""
    for i in range(h.size):
        x = h[i]
        v = min(max(x * _SQRT_HALF32, -_F4), _F4)
        v2 = v * v
        p = v * ((((((v2 * _P13 + _P11) * v2 + _P9) * v2 + _P7) * v2 + _P5) * v2 + _P3) * v2 + _P1)
        q = (((v2 * _Q8 + _Q6) * v2 + _Q4) * v2 + _Q2) * v2 + _Q0
        c = _HALF * (_ONE + p / q)
        y[i] = x * c
        dydh[i] = c + x * _INV_SQRT_2PI32 * e[i]


@nb.njit(cache=True, error_model="numpy")
def gelu_forward(h, y, dydh):
    """y = h * Phi(h) (the exact, erf form of GELU) and its derivative Phi(h) + h * phi(h), kept
    for the backward pass so that it is one multiply; elementwise over flat arrays."""
    for i in range(h.size):
        x = h[i]
        c = 0.5 * (1.0 + math.erf(x * _SQRT_HALF))
        y[i] = x * c
        dydh[i] = c + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@nb.njit(cache=True, error_model="numpy")
def softmax_shift(s, scale, causal, keep, z):
    """First half of the attention softmax over scores s (B, H, T, T): z = scale * s - row max over
    the visible keys, -inf for hidden ones (key j is visible to query t iff (not causal or j <= t)
    and keep[b, j]). numpy's vectorized exp and `normalize_rows` finish it."""
    B, H, T, _ = s.shape
    for q in range(B * H * T):
        b = q // (H * T)
        h = (q // T) % H
        t = q % T
        hi = t + 1 if causal else T
        m = -np.inf
        for j in range(hi):
            if keep[b, j] and s[b, h, t, j] * scale > m:
                m = s[b, h, t, j] * scale
        for j in range(T):
            z[b, h, t, j] = s[b, h, t, j] * scale - m if j < hi and keep[b, j] else -np.inf


@nb.njit(cache=True, error_model="numpy")
def normalize_rows(p):
    """Divide each row of a 2-D array by its sum (accumulated in float64)."""
    n, m = p.shape
    for i in range(n):
        z = 0.0
        for j in range(m):
            z += p[i, j]
        r = 1.0 / z
        for j in range(m):
            p[i, j] *= r


@nb.njit(cache=True, error_model="numpy")
def softmax_backward(dp, p, scale, ds):
    """Gradient with respect to the raw scores: scale * p * (dp - sum(dp * p))."""
    B, H, T, _ = p.shape
    for q in range(B * H * T):
        b = q // (H * T)
        h = (q // T) % H
        t = q % T
        c = 0.0
        for j in range(T):
            c += dp[b, h, t, j] * p[b, h, t, j]
        for j in range(T):
            ds[b, h, t, j] = scale * p[b, h, t, j] * (dp[b, h, t, j] - c)


@nb.njit(cache=True, error_model="numpy")
def shift_rows(x, out):
    """out = x - row max of x; returns the maxima."""
    n, m = x.shape
    mx = np.empty(n, np.float64)
    for i in range(n):
        a = -np.inf
        for j in range(m):
            a = max(a, x[i, j])
        mx[i] = a
        for j in range(m):
            out[i, j] = x[i, j] - a
    return mx


@nb.njit(cache=True, error_model="numpy")
def cross_entropy_finish(e, logits, mx, targets, dlogits):
    """From e = exp(logits - row max): per-row loss -log softmax[target] and, into dlogits (may be
    e itself), (softmax - onehot) / n."""
    n, V = e.shape
    loss = np.empty(n, np.float64)
    for i in range(n):
        z = 0.0
        for j in range(V):
            z += e[i, j]
        r = 1.0 / (z * n)
        for j in range(V):
            dlogits[i, j] = e[i, j] * r
        dlogits[i, targets[i]] -= 1.0 / n
        loss[i] = math.log(z) + mx[i] - logits[i, targets[i]]
    return loss


@nb.njit(cache=True, error_model="numpy")
def embedding_backward(idx, dx, dw):
    """dw[idx[i]] += dx[i], serially so that repeated indices add in a fixed order."""
    n, d = dx.shape
    for i in range(n):
        r = idx[i]
        for j in range(d):
            dw[r, j] += dx[i, j]


@nb.njit(cache=True, error_model="numpy")
def adamw_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bc1, bc2):
    """torch.optim.AdamW's update, elementwise and in place (bc1, bc2: the bias corrections)."""
    sq2 = math.sqrt(bc2)
    for i in range(p.size):
        p[i] *= 1.0 - lr * weight_decay
        m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
        v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i]
        p[i] -= (lr / bc1) * m[i] / (math.sqrt(v[i]) / sq2 + eps)
