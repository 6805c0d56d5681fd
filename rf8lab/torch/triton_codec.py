"""Triton kernels for rf8lab.torch's codec on CUDA: encode and decode, bit-equal to the NumPy codec.

Encode (`encode`): every format, rounding (nearest, nearest-away, toward zero/+inf/-inf, to odd, log, and
stochastic in each of its rules, with random bits drawn from (seed, index) or replayed), overflow mode and
scale layout (per tensor, channel or block, or unscaled), from float16, bfloat16 or float32 input.
- Scales: each group's largest finite magnitude is a torch reduction in the input's own dtype (exact), and
  the scale exponent X comes from the one scale rule, `scale_rule.group_scales`.
- Elements: the kernel reads the Numba kernels' per-binade code tables (`kernels.codes`, each entry filled by
  the exact reference) at the same key as `kernels._table_code`: sign, binade of |x| / 2^X, the top 8
  mantissa bits and a sticky bit of the rest; log rounding counts the breakpoints below the mantissa
  instead; stochastic rounding reads the floor rank there and makes kernels._stochastic_decide's exact
  comparison, its bits drawn by SplitMix64 in the kernel (vectorized.draw_bits) or replayed. Float16 and
  bfloat16 widen to float32 in registers (exact).
- Float multipliers (the integer formats, NVFP4): kernels._mult_code's rule, the float quotient |x| / s
  guessing the rank (a binary search on the grid) and exact residuals deciding (Dekker's product, so the
  kernel is compiled without fused multiply-adds: enable_fp_fusion=False).
- Elements the tables do not cover (float32 subnormals, inf, NaN) are counted and re-encoded by
  the vectorized element rule (`vectorized.element_codes`), as the Numba kernels hand them to _float_code.

Decode (`decode`): every format and layout. Value table[code] times 2^X (as two exact powers of two) or the
integer formats' and NVFP4's float multiplier, in float64, rounded once to the output dtype (16-bit outputs
through float32 rounded to odd, as `xp.narrow`), saturated as `vectorized.saturate_output`.

`supports_encode` says which requests these kernels take; rf8lab.torch runs the rest (float64 input, whose
values the float32 kernels cannot hold) in its vectorized engine. Without CUDA the kernels run in Triton's
interpreter (set up by rf8lab.torch.triton_kernels), which is how the tests check them bit for bit.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..codec import kernels, vectorized
from ..codec.api import resolve
from ..codec.encoded import Encoded
from ..codec.layout import Layout
from ..codec.scale_rule import group_scales
from ..codec.spec import QuantSpec
from ..formats import Format
from ..policies import Overflow, Rounding
from .triton_kernels import tl, triton

BLOCK = 1024  # elements per program on a GPU; Triton's interpreter (no GPU) takes 65,536, as its cost is per program
INPUTS = (torch.float16, torch.bfloat16, torch.float32)


@triton.jit
def _group(t, n, inner, block, nblocks, MODE: tl.constexpr):
    """Scale group of flat element t (int64) of an (outer, n, inner) view (Layout.view3, Layout.group_of)."""
    if MODE == 0:
        g = t * 0
    elif MODE == 1:
        g = (t // inner) % n
    else:
        g = (((t // inner) // n) * nblocks + ((t // inner) % n) // block) * inner + t % inner
    return g


@triton.jit
def _pow2(h):
    """2^h as float64 for integer h in [-1022, 1023] (its bit pattern)."""
    return ((h + 1023) << 52).to(tl.float64, bitcast=True)


@triton.jit
def _widen(x_ptr, t, m, BF16: tl.constexpr):
    """Element t as float32 (exact). bfloat16 comes as its int16 patterns, widened in integers (Triton's
    interpreter converts bfloat16 subnormals wrongly)."""
    if BF16:
        x = ((tl.load(x_ptr + t, mask=m, other=0).to(tl.int32) & 0xFFFF) << 16).to(tl.float32, bitcast=True)
    else:
        x = tl.load(x_ptr + t, mask=m, other=0.0).to(tl.float32)
    return x


@triton.jit
def _fields(x):
    """(sign bit, biased exponent, mantissa) of x widened to float32 (exact)."""
    b = x.to(tl.float32).to(tl.int32, bitcast=True)
    return (b >> 31) & 1, (b >> 23) & 255, b & 0x7FFFFF


@triton.jit
def _key_row(E, man, X, rows, row_base, SHIFT: tl.constexpr):
    """(binade er of |x| / 2^X, its table row, the key: top mantissa bits and a sticky bit), as _table_code."""
    er = E - 127 - X
    row = tl.minimum(tl.maximum(er - row_base, 0), rows - 1)
    key = ((man >> SHIFT) << 1) | ((man & ((1 << SHIFT) - 1)) != 0).to(tl.int32)
    return er, row, key


@triton.jit
def _exceptional(E, man, er, X, s, KIND: tl.constexpr):
    """Elements the kernels leave to the vectorized element rule (kernels._exceptional): subnormal, infinite or
    NaN input; for stochastic rounding (KIND 1) binades beyond float64's normal range; for float multipliers
    (KIND 2) a multiplier beyond Dekker's range. The encode kernels and _flags_kernel both ask this."""
    out = (E == 255) | ((E == 0) & (man != 0))
    if KIND == 1:
        out = out | (er < -1000) | (X < -1000) | (X > 1000)
    if KIND == 2:
        out = out | (s > _pow2(tl.full((), 900, tl.int64))) | (s < _pow2(tl.full((), -900, tl.int64)))
    return out


@triton.jit
def _random(seed_lo, seed_hi, bits_ptr, t, m, nbits, REPLAY: tl.constexpr):
    """Element t's random bits: replayed from bits_ptr, or the top nbits of SplitMix64 output t + 1 of the seed
    (vectorized.draw_bits, in wrapping uint64 arithmetic)."""
    if REPLAY:
        R = tl.load(bits_ptr + t, mask=m, other=0)
    else:
        seed = (seed_hi.to(tl.uint64) << 32) | seed_lo.to(tl.uint64)
        z = seed + (t.to(tl.uint64) + 1) * 0x9E3779B97F4A7C15
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
        z = z ^ (z >> 31)
        R = (z >> (64 - nbits)).to(tl.int64)
    return R


@triton.jit
def _sign_diff(x, k, s):
    """Sign of x - k s, exactly (kernels._sign_diff: Dekker's product, so the kernels run without fp fusion)."""
    split = tl.full((), 134217729, tl.int64).to(tl.float64)  # 2^27 + 1, made in float64 (a float literal: float32)
    p = k * s
    c = split * k
    kh = c - (c - k)
    kl = k - kh
    c = split * s
    sh = c - (c - s)
    sl = s - sh
    err = ((kh * sh - p) + kh * sl + kl * sh) + kl * sl
    d = x - p
    t = d - err
    sure = tl.abs(d) > tl.abs(err) * 4
    return tl.where(sure, (d > 0).to(tl.int32) - (d < 0).to(tl.int32), (t > 0).to(tl.int32) - (t < 0).to(tl.int32))


@triton.jit
def _stochastic_up(a, lo, hi, s, R, k, c0, c1, ties):
    """kernels._stochastic_decide: up from lo where a 2^k > (lo 2^k + (c0 + c1 R)(hi - lo)) s, and at equality as
    bit (R & 1) of `ties` says (the constants of kernels._stochastic_rule)."""
    p = (tl.full((), 1, tl.int64) << k).to(tl.float64)  # 2^k, k <= 33
    sd = _sign_diff(a * p, lo * p + (c0 + c1 * R).to(tl.float64) * (hi - lo), s)
    return (sd > 0) | ((sd == 0) & (((ties >> (R & 1)) & 1) == 1))


@triton.jit
def _store(codes_ptr, exceptional_ptr, t, m, code, neg, E, man, zero_pos, zero_neg, exceptional):
    """Store the codes (zeros get theirs here) and count the exceptional elements (an atomic only where any)."""
    code = tl.where((E == 0) & (man == 0), tl.where(neg == 1, zero_neg, zero_pos), code)
    tl.store(codes_ptr + t, code.to(tl.uint8), mask=m)
    exceptional = m & exceptional
    tl.atomic_add(exceptional_ptr + t * 0, exceptional.to(tl.int32), mask=exceptional)


@triton.jit
def _encode_kernel(x_ptr, codes_ptr, exceptional_ptr, X_ptr, table_ptr, log_ptr, cut_ptr, N, n, inner, block,
                   nblocks, rows, row_base, zero_pos, zero_neg, MODE: tl.constexpr, BF16: tl.constexpr,
                   LOG: tl.constexpr, KEYSHIFT: tl.constexpr, SHIFT: tl.constexpr, BLOCK: tl.constexpr):
    """kernels._table_code's table and log paths: the code tables at the element's key, or log rounding's
    count of breakpoints below the mantissa."""
    t = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = t < N
    neg, E, man = _fields(_widen(x_ptr, t, m, BF16))
    X = tl.load(X_ptr + _group(t, n, inner, block, nblocks, MODE), mask=m, other=0)
    er, row, key = _key_row(E, man, X, rows, row_base, SHIFT)
    base = neg * rows + row
    if LOG:
        count = man * 0
        for i in tl.static_range(7):
            count += (man > tl.load(cut_ptr + i)).to(tl.int32)
        code = tl.load(log_ptr + base * 8 + count, mask=m, other=0)
    else:
        code = tl.load(table_ptr + ((base << KEYSHIFT) | key), mask=m, other=0)
    _store(codes_ptr, exceptional_ptr, t, m, code, neg, E, man, zero_pos, zero_neg,
           _exceptional(E, man, er, X, 1.0, 0))


@triton.jit(do_not_specialize=["ranks", "nbits", "k", "c0", "c1", "ties", "seed_lo", "seed_hi"])
def _stochastic_kernel(x_ptr, codes_ptr, exceptional_ptr, X_ptr, floor_ptr, ext_ptr, rank_code_ptr, bits_ptr, N,
                       n, inner, block, nblocks, rows, row_base, zero_pos, zero_neg, ranks, nbits, k, c0, c1, ties,
                       seed_lo, seed_hi, MODE: tl.constexpr, BF16: tl.constexpr, REPLAY: tl.constexpr,
                       KEYSHIFT: tl.constexpr,
                       SHIFT: tl.constexpr, BLOCK: tl.constexpr):
    """kernels._table_code's stochastic path: the floor rank lo from the key, then _stochastic_up with
    a = |x| / 2^X (exact) and no multiplier."""
    t = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = t < N
    x = _widen(x_ptr, t, m, BF16)
    neg, E, man = _fields(x)
    X = tl.load(X_ptr + _group(t, n, inner, block, nblocks, MODE), mask=m, other=0)
    er, row, key = _key_row(E, man, X, rows, row_base, SHIFT)
    r = tl.load(floor_ptr + ((row << KEYSHIFT) | key), mask=m, other=0)
    lo = tl.load(ext_ptr + r, mask=m, other=0.0)
    hi = tl.load(ext_ptr + r + 1, mask=m, other=1.0)
    a = tl.abs(x.to(tl.float64)) * _pow2(-tl.minimum(tl.maximum(X, -1000), 1000).to(tl.int64))  # beyond: exceptional
    R = _random(seed_lo, seed_hi, bits_ptr, t, m, nbits, REPLAY)
    up = (r < ranks) & (a != lo) & _stochastic_up(a, lo, hi, lo * 0 + 1.0, R, k, c0, c1, ties)
    code = tl.load(rank_code_ptr + neg * (ranks + 1) + r + up.to(tl.int32), mask=m, other=0)
    _store(codes_ptr, exceptional_ptr, t, m, code, neg, E, man, zero_pos, zero_neg,
           _exceptional(E, man, er, X, 1.0, 1))


@triton.jit(do_not_specialize=["ranks", "nbits", "k", "c0", "c1", "ties", "rnd", "seed_lo", "seed_hi"])
def _multiplier_kernel(x_ptr, codes_ptr, exceptional_ptr, mult_ptr, ext_ptr, rank_code_ptr, bits_ptr, N, n, inner,
                       block, nblocks, zero_pos, zero_neg, ranks, nbits, k, c0, c1, ties, seed_lo, seed_hi, rnd,
                       MODE: tl.constexpr, BF16: tl.constexpr, STOCHASTIC: tl.constexpr, REPLAY: tl.constexpr,
                       BLOCK: tl.constexpr):
    """kernels._mult_code for float multipliers (the integer formats, NVFP4): the float quotient |x| / s guesses
    the rank (a binary search on the grid), exact residuals decide (_sign_diff)."""
    t = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = t < N
    x = _widen(x_ptr, t, m, BF16)
    neg, E, man = _fields(x)
    s = tl.load(mult_ptr + _group(t, n, inner, block, nblocks, MODE), mask=m, other=1.0)
    a = tl.abs(x.to(tl.float64))
    q = a / s
    i = tl.zeros_like(t)
    for step in tl.static_range(8):  # the largest rank i <= ranks with grid[i] <= q (ranks < 256)
        j = i + (128 >> step)
        ok = (j <= ranks) & (tl.load(ext_ptr + tl.minimum(j, ranks), mask=m, other=0.0) <= q)
        i = tl.where(ok, j, i)
    down = (i > 0) & (_sign_diff(a, tl.load(ext_ptr + i, mask=m, other=0.0), s) < 0)
    up1 = (~down) & (i < ranks) & (_sign_diff(a, tl.load(ext_ptr + i + 1, mask=m, other=0.0), s) >= 0)
    i = tl.minimum(i - down.to(tl.int64) + up1.to(tl.int64), ranks)
    lo = tl.load(ext_ptr + i, mask=m, other=0.0)
    hi = tl.load(ext_ptr + i + 1, mask=m, other=1.0)
    exact = _sign_diff(a, lo, s) == 0
    if STOCHASTIC:
        R = _random(seed_lo, seed_hi, bits_ptr, t, m, nbits, REPLAY)
        up = _stochastic_up(a, lo, hi, s, R, k, c0, c1, ties).to(tl.int64)
    else:  # kernels.ROUND: 0 nearest, 3 nearest-away, 4 toward zero, 5 toward +inf, 6 toward -inf, 7 to odd
        sd = _sign_diff(2.0 * a, lo + hi, s)
        odd = i & 1
        nearest = ((sd > 0) | ((sd == 0) & ((rnd == 3) | (odd == 1)))).to(tl.int64)
        n64 = neg.to(tl.int64)
        up = tl.where((rnd == 0) | (rnd == 3), nearest,
                      tl.where(rnd == 5, 1 - n64, tl.where(rnd == 6, n64, tl.where(rnd == 7, 1 - odd, 0 * odd))))
    r = tl.where((i >= ranks) | exact, i, i + up)
    r = tl.where(q >= 2.0 * tl.load(ext_ptr + ranks), ranks, r)
    code = tl.load(rank_code_ptr + neg * (ranks + 1) + r, mask=m, other=0)
    _store(codes_ptr, exceptional_ptr, t, m, code, neg, E, man, zero_pos, zero_neg,
           _exceptional(E, man, E, E, s, 2))


@triton.jit
def _flags_kernel(x_ptr, flags_ptr, X_ptr, mult_ptr, N, n, inner, block, nblocks, MODE: tl.constexpr,
                  BF16: tl.constexpr, KIND: tl.constexpr, BLOCK: tl.constexpr):
    """flags[t] = 1 where the encode kernels left element t to the vectorized rule (_exceptional), else 0."""
    t = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = t < N
    neg, E, man = _fields(_widen(x_ptr, t, m, BF16))
    g = _group(t, n, inner, block, nblocks, MODE)
    if KIND == 2:
        X = E * 0
        s = tl.load(mult_ptr + g, mask=m, other=1.0)
    else:
        X = tl.load(X_ptr + g, mask=m, other=0)
        s = 1.0
    tl.store(flags_ptr + t, _exceptional(E, man, E - 127 - X, X, s, KIND).to(tl.uint8), mask=m)


@triton.jit
def _decode_kernel(codes_ptr, out_ptr, values_ptr, X_ptr, mult_ptr, N, n, inner, block, nblocks, inf_pos, inf_neg,
                   MODE: tl.constexpr, FLOAT_SCALE: tl.constexpr, SATURATE: tl.constexpr, HAS_INF: tl.constexpr,
                   OUT: tl.constexpr, BLOCK: tl.constexpr):
    """Values of the codes in the output's bit patterns (OUT 0 float16, 1 bfloat16, 2 float32, 3 float64; out_ptr
    is an integer view of the output), so that no hardware conversion chooses a NaN's payload or a rounding."""
    t = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = t < N
    c = tl.load(codes_ptr + t, mask=m, other=0).to(tl.int32)
    v = tl.load(values_ptr + c, mask=m, other=0.0)
    g = _group(t, n, inner, block, nblocks, MODE)
    if FLOAT_SCALE:
        p = v * tl.load(mult_ptr + g, mask=m, other=1.0)
    else:  # ldexp(v, X): two exact powers of two, so only the last product rounds
        X = tl.load(X_ptr + g, mask=m, other=0).to(tl.int64)
        h = X >> 1
        p = v * _pow2(tl.minimum(tl.maximum(h, -1022), 1023)) * _pow2(tl.minimum(tl.maximum(X - h, -1022), 1023))
    nan = v != v
    sign = (v.to(tl.int64, bitcast=True) < 0).to(tl.int64)  # a NaN keeps its code's sign, as numpy's casts do
    finite_code = c == c
    if HAS_INF:
        finite_code = (c != inf_pos) & (c != inf_neg)
    if OUT == 3:
        bits = p.to(tl.int64, bitcast=True)
        inf, top, qnan, width = 0x7FF0000000000000, 0x7FEFFFFFFFFFFFFF, 0x7FF8000000000000, 64
    else:
        f = p.to(tl.float32)  # rounded to nearest even
        b32 = f.to(tl.int32, bitcast=True)
        if OUT == 2:
            bits = b32.to(tl.int64) & 0xFFFFFFFF
            inf, top, qnan, width = 0x7F800000, 0x7F7FFFFF, 0x7FC00000, 32
        else:  # float32 rounded to odd (xp.narrow), then to nearest even in the 16-bit type: one rounding from p
            back = tl.abs(f.to(tl.float64))
            mag = tl.abs(p)
            finite = mag < float("inf")
            b32 = b32 - (finite & (back > mag)).to(tl.int32)
            b32 = b32 | (finite & (back != mag)).to(tl.int32)
            if OUT == 1:
                bits = ((b32 + 0x7FFF + ((b32 >> 16) & 1)) >> 16).to(tl.int64) & 0xFFFF
                inf, top, qnan, width = 0x7F80, 0x7F7F, 0x7FC0, 16
            else:
                bits = b32.to(tl.float32, bitcast=True).to(tl.float16).to(tl.int16, bitcast=True).to(tl.int64) & 0xFFFF
                inf, top, qnan, width = 0x7C00, 0x7BFF, 0x7E00, 16
    magnitude = bits & ~(sign << (width - 1))
    if SATURATE:  # never inf from a finite code
        magnitude = tl.where((magnitude == inf) & finite_code, top, magnitude)
    magnitude = tl.where(nan, qnan, magnitude)
    tl.store(out_ptr + t, ((sign << (width - 1)) | magnitude).to(out_ptr.dtype.element_ty), mask=m)


_CODES: dict = {}  # (format, rounding, overflow, device) -> the code tables on that device


def _codes(f: Format, rounding: str, overflow: str, device) -> dict:
    key = (f.name, rounding, overflow, str(device))
    if key not in _CODES:
        C = kernels.codes(f.name, rounding, overflow)
        _CODES[key] = {"table": torch.from_numpy(C.table.astype("int32")).to(device),
                       "log": torch.from_numpy(C.log.astype("int32")).to(device),
                       "cut": torch.from_numpy(C.cut23.astype("int32")).to(device),
                       "floor": torch.from_numpy(C.floor.astype("int32")).to(device),
                       "ext": torch.from_numpy(C.ext).to(device),
                       "rank_code": torch.from_numpy(C.rank_code.astype("int32")).to(device), "n": C.n,
                       "rows": C.rows, "row_base": C.row_base, "zero_pos": C.zero_pos, "zero_neg": C.zero_neg}
    return _CODES[key]


def supports_encode(x: torch.Tensor, spec: QuantSpec) -> bool:
    """Whether `encode` takes this input and spec (the rest goes to the vectorized engine)."""
    return x.dtype in INPUTS and x.numel() > 0 and not (spec.format.float_scale and spec.rounding == Rounding.LOG)


def group_amax(x: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Each group's largest finite magnitude (float64, flat in the scale array's order; -1 where there is
    none), as vectorized.group_amax, reduced in x's own dtype (exact)."""
    if layout.granularity is None:
        return torch.full((1,), -1.0, dtype=torch.float64, device=x.device)
    a = x.abs()
    a = torch.where(torch.isfinite(a), a, torch.full((), -1, dtype=a.dtype, device=a.device))
    mode, (outer, n, inner), block = layout.view3()
    if mode == 0:
        return a.amax().reshape(1).to(torch.float64)
    a = a.reshape(outer, n, inner)
    if mode == 1:
        return a.amax(dim=(0, 2)).to(torch.float64)
    nblocks = -(-n // block)
    a = F.pad(a, (0, 0, 0, nblocks * block - n), value=-1.0)  # a partial last block: as if padded
    return a.reshape(outer, nblocks, block, inner).amax(dim=2).reshape(-1).to(torch.float64)


def _block(device) -> int:
    return BLOCK if device.type == "cuda" else 1 << 16


def _grid(n_elements: int, block: int) -> tuple[int]:
    return (triton.cdiv(n_elements, block),)


def encode(x: torch.Tensor, spec: QuantSpec, out_dtype, seed: int | None = None,
           random_bits: torch.Tensor | None = None) -> Encoded:
    """rf8lab.encode(x, spec) for a request `supports_encode` takes (x on CUDA, or on CPU in the interpreter).
    Stochastic rounding: bits drawn from `seed`, or `random_bits` (int64, x's shape, on x's device) replayed."""
    f, layout = resolve(spec, x.shape)
    X, mult = group_scales(f, group_amax(x, layout), layout.granularity)
    X32, mult = X.to(torch.int32), mult.reshape(-1).contiguous()
    C = _codes(f, str(spec.rounding), str(spec.overflow), x.device)
    flat = x.detach().contiguous().reshape(-1)
    bf16 = x.dtype == torch.bfloat16
    src = flat.view(torch.int16) if bf16 else flat  # what the kernels read (_widen)
    codes = torch.empty(flat.shape, dtype=torch.uint8, device=x.device)
    block_size = _block(x.device)
    grid = _grid(flat.numel(), block_size)
    exceptional = torch.zeros(1, dtype=torch.int32, device=x.device)
    mode, (_, n, inner), block = layout.view3()
    view = (flat.numel(), n, inner, block, -(-n // block))
    stochastic = spec.rounding.stochastic
    nsr = -1 if spec.sr_bits is None else spec.sr_bits
    k, c0, c1, ties = kernels._stochastic_rule(kernels.ROUND[str(spec.rounding)], nsr) if stochastic else (0,) * 4
    rule = (C["n"], 32 if nsr < 0 else nsr, int(k), int(c0), int(c1), int(ties), (seed or 0) & 0xFFFFFFFF,
            (seed or 0) >> 32)
    replay = random_bits is not None
    rbits = random_bits.reshape(-1) if replay else exceptional  # (not read when the bits are drawn)
    if f.float_scale:  # the integer formats and NVFP4: a float multiplier per group
        kind = 2
        _multiplier_kernel[grid](src, codes, exceptional, mult, C["ext"], C["rank_code"], rbits, *view,
                                 C["zero_pos"], C["zero_neg"], *rule, kernels.ROUND[str(spec.rounding)], MODE=mode,
                                 BF16=bf16, STOCHASTIC=stochastic, REPLAY=replay, BLOCK=block_size,
                                 enable_fp_fusion=False)
    elif not stochastic:
        kind = 0
        _encode_kernel[grid](src, codes, exceptional, X32, C["table"], C["log"], C["cut"], *view, C["rows"],
                             C["row_base"], C["zero_pos"], C["zero_neg"], MODE=mode, BF16=bf16,
                             LOG=spec.rounding == Rounding.LOG,
                             KEYSHIFT=kernels.KEYSHIFT, SHIFT=23 - kernels.KEYBITS, BLOCK=block_size)
    else:
        kind = 1
        _stochastic_kernel[grid](src, codes, exceptional, X32, C["floor"], C["ext"], C["rank_code"], rbits, *view,
                                 C["rows"], C["row_base"], C["zero_pos"], C["zero_neg"], *rule, MODE=mode,
                                 BF16=bf16, REPLAY=replay, KEYSHIFT=kernels.KEYSHIFT, SHIFT=23 - kernels.KEYBITS,
                                 BLOCK=block_size, enable_fp_fusion=False)
    if int(exceptional.sum()):  # rare: subnormal, infinite or NaN input (or a scale beyond the kernels' range)
        flags = torch.empty(flat.shape, dtype=torch.uint8, device=x.device)
        _flags_kernel[grid](src, flags, X32, mult, *view, MODE=mode, BF16=bf16, KIND=kind, BLOCK=block_size)
        t = torch.nonzero(flags).reshape(-1)
        g = torch.from_numpy(layout.group_of(t.cpu().numpy())).to(x.device)
        bits = None
        if stochastic:
            bits = random_bits.reshape(-1)[t] if replay else torch.from_numpy(vectorized.draw_bits(
                np.uint64(seed), t.cpu().numpy().astype(np.uint64), np.uint64(rule[1])).astype(np.int64)).to(x.device)
        X_e, s_e = (None, mult[g]) if f.float_scale else (X[g], None)
        codes[t] = vectorized.element_codes(flat[t].to(torch.float64), X_e, s_e, f, spec.rounding, spec.overflow,
                                            bits, spec.sr_bits)
    shape = layout.scale_shape
    scale_exp = X32.reshape(shape) if f.scale_codes else None
    return Encoded(codes.reshape(x.shape), scale_exp, mult.reshape(shape), spec, layout, out_dtype)


_OUT = {torch.float16: (0, torch.int16), torch.bfloat16: (1, torch.int16), torch.float32: (2, torch.int32),
        torch.float64: (3, torch.int64)}  # output dtype -> (the kernel's OUT, the integer view it writes)


def decode(enc: Encoded, dtype: torch.dtype) -> torch.Tensor:
    """rf8lab.decode(enc, dtype) for an Encoded of torch tensors (CUDA, or CPU in the interpreter)."""
    f = enc.spec.format
    codes = enc.codes.contiguous().reshape(-1)
    out = torch.empty(codes.shape, dtype=dtype, device=codes.device)
    if codes.numel() == 0:
        return out.reshape(enc.codes.shape)
    X = enc.scale_exp if enc.scale_exp is not None else torch.zeros((), dtype=torch.int32, device=codes.device)
    mult = enc.multiplier.to(torch.float64).reshape(-1).contiguous()
    mode, (_, n, inner), block = enc.layout.view3()
    _, _, inf_pos, inf_neg = f.special_codes
    kind, bits = _OUT[dtype]
    _decode_kernel[_grid(codes.numel(), _block(codes.device))](
        codes, out.view(bits), vectorized.grid(f, codes).values, X.reshape(-1).contiguous(), mult, codes.numel(),
        n, inner, block, -(-n // block), inf_pos, inf_neg, MODE=mode, FLOAT_SCALE=f.float_scale,
        SATURATE=enc.spec.overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE), HAS_INF=f.has_inf, OUT=kind,
        BLOCK=_block(codes.device))
    return out.reshape(enc.codes.shape)
