"""Triton kernels for rf8lab.torch: the weight-only 8-bit matmul (W8A16).

`linear(x, enc, bias)` is F.linear(x, decode(enc), bias) without a decoded weight in memory: each program
loads a tile of uint8 codes, reads their values from the format's 256-entry value table (float32, at scale
0) and accumulates x @ w^T in float32; a scale per block along the input features multiplies each weight,
one per output row (per tensor or channel) multiplies the row's sums once at the end (for a power-of-two
scale the same result wherever 2^X and the unscaled sums are normal float32 numbers, as scaling by 2^X then
commutes with rounding; an integer format's float multiplier rounds differently, within the accumulation's
error). One kernel serves every rf8lab format, since a format is only its value table here.

On a machine without a GPU the same kernel runs in Triton's interpreter (TRITON_INTERPRET=1, which this
module sets when CUDA is absent; triton reads it once, so it must come before triton's first import), which
is how the tests check it.
"""
from __future__ import annotations

import os

import torch

from ..optional import require

if not torch.cuda.is_available():  # the interpreter runs the kernels on CPU tensors (tests, CI)
    os.environ.setdefault("TRITON_INTERPRET", "1")
require("triton", "rf8lab.torch.triton_kernels")
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from ..codec.encoded import Encoded  # noqa: E402


@triton.jit
def _w8_linear(x_ptr, codes_ptr, table_ptr, mult_ptr, bias_ptr, out_ptr, M, N, K,
               stride_xm, stride_xk, stride_cn, stride_ck, stride_sn, stride_sg, stride_om, stride_on,
               GROUP_K: tl.constexpr, ROW_SCALE: tl.constexpr, HAS_BIAS: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        xm = (rm[:, None] < M) & (kk[None, :] < K)
        x = tl.load(x_ptr + rm[:, None] * stride_xm + kk[None, :] * stride_xk, mask=xm, other=0.0).to(tl.float32)
        wm = (kk[:, None] < K) & (rn[None, :] < N)  # the weight tile transposed: (BLOCK_K, BLOCK_N)
        c = tl.load(codes_ptr + rn[None, :] * stride_cn + kk[:, None] * stride_ck, mask=wm, other=0).to(tl.int32)
        w = tl.where(wm, tl.load(table_ptr + c), 0.0)  # masked lanes are 0 (a NaN code must not leak in)
        if not ROW_SCALE:  # per block along K: each element's group multiplier
            w = w * tl.load(mult_ptr + rn[None, :] * stride_sn + (kk[:, None] // GROUP_K) * stride_sg, mask=wm,
                            other=0.0)
        acc += tl.dot(x, w, input_precision="ieee")
    if ROW_SCALE:  # one multiplier per output row: applied once to the sums, not to every weight
        acc = acc * tl.load(mult_ptr + rn * stride_sn, mask=rn < N, other=0.0)[None, :]
    if HAS_BIAS:
        acc += tl.load(bias_ptr + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    om = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(out_ptr + rm[:, None] * stride_om + rn[None, :] * stride_on, acc.to(out_ptr.dtype.element_ty), mask=om)


_TABLES: dict = {}  # (format name, device) -> float32 value table


def _table(fmt, device) -> torch.Tensor:
    key = (fmt.name, str(device))
    if key not in _TABLES:
        _TABLES[key] = torch.tensor(fmt.values, dtype=torch.float64).to(torch.float32).to(device)
    return _TABLES[key]


ACTIVATION_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def reads(layout) -> bool:
    """Whether the kernel reads this weight's scales: per tensor, per output channel (axis 0), or per block
    along the input features (axis 1)."""
    return layout.granularity in (None, "tensor") or (layout.granularity, layout.axis) in (("channel", 0),
                                                                                          ("block", 1))


def group_multipliers(enc: Encoded) -> tuple[torch.Tensor, int]:
    """(float32 multiplier per (output row, group along K), GROUP_K) of a weight's Encoded, or ValueError for
    layouts the kernel does not read (channels along axis 1, blocks along axis 0)."""
    n, k = enc.shape
    mult = enc.multiplier.to(torch.float32)
    g = enc.layout.granularity
    if not reads(enc.layout):
        raise ValueError(f"the W8A16 kernel reads scales per tensor, per output channel (axis 0) or per block along "
                     f"the input features (axis 1); this weight has {g} scales along axis {enc.layout.axis}")
    if g in (None, "tensor"):
        return mult.reshape(1, 1).expand(n, 1), max(k, 1)
    if g == "channel":
        return mult.reshape(n, 1), max(k, 1)
    return mult.reshape(n, -1), enc.layout.block


def linear(x: torch.Tensor, enc: Encoded, bias: torch.Tensor | None = None,
           block=(16, 64, 32)) -> torch.Tensor:
    """F.linear(x, decode(enc), bias) from the codes (x: (..., in) float16, bfloat16 or float32; enc: an
    (out, in) weight's Encoded of torch tensors on x's device); float32 accumulation, output in x's dtype."""
    if x.dtype not in ACTIVATION_DTYPES:
        raise TypeError(f"the W8A16 kernel takes float16, bfloat16 or float32 activations; got {x.dtype}")
    if len(enc.shape) != 2 or x.shape[-1] != enc.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} input features; the weight has shape {enc.shape}")
    n, k = enc.shape
    x2 = x.reshape(-1, k)
    m = x2.shape[0]
    mult, group_k = group_multipliers(enc)
    out = torch.empty(m, n, dtype=x.dtype, device=x.device)
    bm, bn, bk = block
    grid = (triton.cdiv(m, bm), triton.cdiv(n, bn))
    _w8_linear[grid](x2, enc.codes, _table(enc.spec.format, x.device), mult, bias if bias is not None else out, out,
                     m, n, k, x2.stride(0), x2.stride(1), enc.codes.stride(0), enc.codes.stride(1),
                     mult.stride(0), mult.stride(1), out.stride(0), out.stride(1),
                     GROUP_K=group_k, ROW_SCALE=group_k >= k, HAS_BIAS=bias is not None, BLOCK_M=bm, BLOCK_N=bn,
                     BLOCK_K=bk)
    return out.reshape(*x.shape[:-1], n)
