"""The layers of a transformer, each a forward function that returns (output, cache) and a backward
function that takes (d_output, cache), adds parameter gradients into `grads` and returns d_input.

Parameters are plain arrays in a dict `p`, looked up by name; linear weights are (out, in) as in
torch, so y = x @ W.T + b.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import numba_ops


def _acc(grads, name, g):
    if name in grads:
        grads[name] += g
    else:
        grads[name] = g


# ---- linear --------------------------------------------------------------------------------------
def linear(p, name, x):
    w = p[name + ".weight"]
    y = x.reshape(-1, x.shape[-1]) @ w.T  # one 2-D product: BLAS sees the whole batch at once
    y += p[name + ".bias"]
    return y.reshape(*x.shape[:-1], w.shape[0]), x


def linear_backward(p, name, dy, x, grads):
    w = p[name + ".weight"]
    dy2 = dy.reshape(-1, dy.shape[-1])
    _acc(grads, name + ".weight", dy2.T @ x.reshape(-1, x.shape[-1]))
    _acc(grads, name + ".bias", dy2.sum(axis=0))
    return (dy2 @ w).reshape(*dy.shape[:-1], w.shape[1])


# ---- layer norm ----------------------------------------------------------------------------------
def layernorm(p, name, x, eps):
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    y = np.empty_like(x2)
    xhat = np.empty_like(x2)
    rstd = np.empty(x2.shape[0], x.dtype)
    numba_ops.layernorm_forward(x2, p[name + ".weight"], p[name + ".bias"], eps, y, xhat, rstd)
    return y.reshape(x.shape), (xhat, rstd)


def layernorm_backward(p, name, dy, cache, grads):
    xhat, rstd = cache
    dy2 = np.ascontiguousarray(dy).reshape(xhat.shape)
    _acc(grads, name + ".weight", np.einsum("ij,ij->j", dy2, xhat))
    _acc(grads, name + ".bias", dy2.sum(axis=0))
    dx = np.empty_like(dy2)
    numba_ops.layernorm_backward(dy2, xhat, rstd, p[name + ".weight"], dx)
    return dx.reshape(dy.shape)


# ---- attention -----------------------------------------------------------------------------------
def _scores(a, b):
    """a @ b^T over (batch, head) stacks. The inner dimension is only the head size, and OpenBLAS
    splitting each of these small products over threads is slower than one thread (measured 2.7 vs
    1.7 ms for 128 products of 128x32 by 32x128), so BLAS gets one thread for them."""
    with one_blas_thread():
        return a @ b.transpose(0, 1, 3, 2)


def one_blas_thread():
    """Context manager: BLAS at one thread inside."""
    return _blas().limit(limits=1)


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _heads(x, n_head):  # (B, T, D) -> (B, H, T, D/H)
    B, T, D = x.shape
    return x.reshape(B, T, n_head, D // n_head).transpose(0, 2, 1, 3)


def _merge(x):  # (B, H, T, Dh) -> (B, T, H*Dh)
    B, H, T, Dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * Dh)


def attention(p, name, x, n_head, causal, keep):
    """Multi-head self-attention. keep (B, T) bool marks the keys that may be attended to (padding
    masks); causal hides later positions."""
    # q, k and v in one product: the three weights stacked into (3D, D)
    D = x.shape[-1]
    w = np.concatenate([p[f"{name}.{n}.weight"] for n in "qkv"])
    qkv = x.reshape(-1, D) @ w.T
    qkv += np.concatenate([p[f"{name}.{n}.bias"] for n in "qkv"])
    qkv = qkv.reshape(*x.shape[:-1], 3 * D)
    qh, kh, vh = (_heads(qkv[..., i * D:(i + 1) * D], n_head) for i in range(3))
    scale = 1.0 / np.sqrt(qh.shape[-1])
    s = _scores(qh, kh)
    if not keep.all():  # padded keys: -inf before the softmax
        s += np.where(keep, 0.0, -np.inf).astype(s.dtype)[:, None, None, :]
    att = np.empty_like(s)
    numba_ops.softmax_forward(s.reshape(-1, s.shape[-1]), scale, causal, att.reshape(-1, s.shape[-1]))
    a = _merge(att @ vh)
    y, _ = linear(p, name + ".o", a)
    return y, (x, w, qh, kh, vh, att, a, scale)


def attention_backward(p, name, dy, cache, grads):
    x, w, qh, kh, vh, att, a, scale = cache
    n_head, D = qh.shape[1], x.shape[-1]
    da = _heads(linear_backward(p, name + ".o", dy, a, grads), n_head)
    datt = _scores(da, vh)
    dv = att.transpose(0, 1, 3, 2) @ da
    ds = np.empty_like(datt)
    T = att.shape[-1]
    numba_ops.softmax_backward(datt.reshape(-1, T), att.reshape(-1, T), scale, ds.reshape(-1, T))
    dqkv = np.empty(x.shape[:-1] + (3 * D,), x.dtype)
    dqkv[..., :D] = _merge(ds @ kh)
    dqkv[..., D:2 * D] = _merge(ds.transpose(0, 1, 3, 2) @ qh)
    dqkv[..., 2 * D:] = _merge(dv)
    d2 = dqkv.reshape(-1, 3 * D)
    dw = d2.T @ x.reshape(-1, D)
    db = d2.sum(axis=0)
    for i, n in enumerate("qkv"):
        _acc(grads, f"{name}.{n}.weight", dw[i * D:(i + 1) * D])
        _acc(grads, f"{name}.{n}.bias", db[i * D:(i + 1) * D])
    return (d2 @ w).reshape(x.shape)


# ---- MLP -----------------------------------------------------------------------------------------
def gelu(h):
    """GELU (erf form) and its derivative (see numba_ops.py for the float32 erf and exp)."""
    g, dgdh = np.empty_like(h), np.empty_like(h)
    numba_ops.gelu_forward(h.reshape(-1), g.reshape(-1), dgdh.reshape(-1))
    return g, dgdh


def mlp(p, name, x):
    h, _ = linear(p, name + ".fc", x)
    g, dgdh = gelu(h)
    y, _ = linear(p, name + ".proj", g)
    return y, (x, g, dgdh)


def mlp_backward(p, name, dy, cache, grads):
    x, g, dgdh = cache
    dh = linear_backward(p, name + ".proj", dy, g, grads)
    dh *= dgdh
    return linear_backward(p, name + ".fc", dh, x, grads)


# ---- transformer block: pre-norm (GPT, ViT) or post-norm (BERT) -----------------------------------
def block(p, name, x, cfg, keep):
    eps = cfg.ln_eps
    if cfg.norm == "pre":
        h1, c1 = layernorm(p, name + ".ln1", x, eps)
        a, ca = attention(p, name + ".attn", h1, cfg.n_head, cfg.causal, keep)
        x = x + a
        h2, c2 = layernorm(p, name + ".ln2", x, eps)
        m, cm = mlp(p, name + ".mlp", h2)
        return x + m, (c1, ca, c2, cm)
    a, ca = attention(p, name + ".attn", x, cfg.n_head, cfg.causal, keep)
    x, c1 = layernorm(p, name + ".ln1", x + a, eps)
    m, cm = mlp(p, name + ".mlp", x)
    y, c2 = layernorm(p, name + ".ln2", x + m, eps)
    return y, (c1, ca, c2, cm)


def block_backward(p, name, dy, cache, cfg, grads):
    c1, ca, c2, cm = cache
    if cfg.norm == "pre":
        dx = dy + layernorm_backward(p, name + ".ln2", mlp_backward(p, name + ".mlp", dy, cm, grads), c2, grads)
        return dx + layernorm_backward(p, name + ".ln1", attention_backward(p, name + ".attn", dx, ca, grads),
                                       c1, grads)
    d = layernorm_backward(p, name + ".ln2", dy, c2, grads)
    d = d + mlp_backward(p, name + ".mlp", d, cm, grads)
    d = layernorm_backward(p, name + ".ln1", d, c1, grads)
    return d + attention_backward(p, name + ".attn", d, ca, grads)


# ---- embeddings and loss -------------------------------------------------------------------------
def embedding(p, name, idx):
    return p[name + ".weight"][idx]


def embedding_backward(p, name, dy, idx, grads):
    w = p[name + ".weight"]
    dw = np.zeros_like(w)
    numba_ops.embedding_backward(np.ascontiguousarray(idx).reshape(-1),
                               np.ascontiguousarray(dy).reshape(-1, w.shape[1]), dw)
    _acc(grads, name + ".weight", dw)


def cross_entropy(logits, targets):
    """Mean cross-entropy over rows and its gradient (computed together, in one pass)."""
    l2 = np.ascontiguousarray(logits).reshape(-1, logits.shape[-1])
    d = np.empty_like(l2)
    loss = numba_ops.cross_entropy(l2, np.ascontiguousarray(targets).reshape(-1).astype(np.int64), d)
    return float(loss.mean()), d.reshape(logits.shape)
