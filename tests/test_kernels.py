"""The Numba kernels equal the reference codec bit for bit."""
import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import kernels, vectorized
from rf8lab.policies import Rounding

from .helpers import configs, random_bits, threshold_pool

ALL16 = np.arange(2 ** 16, dtype=np.uint16)
CONFIGS = [("rf8", r, o, s) for r in ("nearest", "log", "stochastic")
           for o, s in (("saturate", None), ("nan", "tensor"))] + [
    ("e4m3", "nearest", "nan", None), ("e4m3", "nearest", "saturate", "tensor"),
    ("e5m2", "nearest", "inf", None), ("e4m3fnuz", "stochastic", "nan", None),
    ("e5m2fnuz", "nearest", "saturate", "tensor"), ("int8", "nearest", "saturate", "tensor"),
    ("int8", "stochastic", "saturate", "tensor")]


def _same(a, b):
    np.testing.assert_array_equal(a.codes, b.codes)
    if a.scale_exp is not None:
        np.testing.assert_array_equal(a.scale_exp, b.scale_exp)
    np.testing.assert_array_equal(a.multiplier, b.multiplier)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("fmt,rounding,overflow,scale", CONFIGS, ids=lambda v: str(v))
def test_every_16_bit_pattern(dtype, fmt, rounding, overflow, scale):
    x = ALL16.view(dtype)
    if scale == "tensor":  # a finite tensor, so the scale is set by a real absmax
        x = x[np.isfinite(x.astype(np.float32))]
    bits = np.random.default_rng(0).integers(0, 2 ** 32, x.shape, dtype=np.uint32) if rounding == "stochastic" else None
    kw = dict(rounding=rounding, overflow=overflow, scale=scale, random_bits=bits)
    _same(rl.encode(x, fmt, backend="numba", **kw), rl.encode(x, fmt, backend="reference", **kw))


@pytest.mark.parametrize("scale,axis", [("channel", 0), ("channel", 1), ("block", -1), ("block", 0)])
def test_grouped_scales_on_every_bf16_pattern(scale, axis):
    x = ALL16.view(ml_dtypes.bfloat16).reshape(256, 256)
    x = np.where(np.isfinite(x.astype(np.float32)), x, x.dtype.type(0))  # a typed 0: ml_dtypes 0.4 does not promote int
    for fmt, rounding in (("rf8", "nearest"), ("rf8", "log"), ("mxfp8", "nearest"), ("int8", "nearest")):
        if scale not in rl.format_info(fmt).scales:
            continue
        kw = dict(rounding=rounding, scale=scale, axis=axis)
        _same(rl.encode(x, fmt, backend="numba", **kw), rl.encode(x, fmt, backend="reference", **kw))


@pytest.mark.parametrize("fmt", rl.format_names())
def test_every_code_decodes(fmt):
    n = rl.format_info(fmt).codes
    codes = np.arange(n, dtype=np.uint8)
    for X in (0, -7, 12):
        enc = rl.encode(np.ldexp(np.linspace(-1, 1, n), X), fmt)
        enc = type(enc)(**{**enc.__dict__, "codes": codes})
        for dt in (np.float32, np.float64, np.float16):
            np.testing.assert_array_equal(rl.decode(enc, dt, backend="numba"), rl.decode(enc, dt, backend="reference"))


def _float32_patterns(fmt: str, n: int = 1 << 22) -> np.ndarray:
    """Every threshold and tie of the format at every scale 2^k (k = -40..40), +-1 and +-2 ulp,
    then random patterns up to n."""
    pool = threshold_pool(fmt, np.dtype(np.float32)).astype(np.float64)
    scaled = (pool[None, :] * np.exp2(np.arange(-40, 41))[:, None]).astype(np.float32).ravel()
    near = [scaled, np.nextafter(scaled, np.float32(np.inf)), np.nextafter(scaled, np.float32(-np.inf))]
    near.append(np.nextafter(near[1], np.float32(np.inf)))
    x = np.concatenate(near)
    rest = np.random.default_rng(1).integers(0, 2 ** 32, max(0, n - x.size), dtype=np.uint32).view(np.float32)
    return np.concatenate([x, rest])


@pytest.mark.parametrize("fmt,overflow", [("rf8", "saturate"), ("rf8", "nan"), ("e4m3", "nan"), ("e5m2", "inf")])
def test_nearest_on_4m_float32_patterns(fmt, overflow):
    x = _float32_patterns(fmt)
    codes = rl.encode(x, fmt, scale=None, overflow=overflow).codes
    x64 = x.astype(np.float64)
    want = vectorized.element_codes(x64, np.zeros(x.size, np.int64), None, rl.format_info(fmt), "nearest", overflow)
    np.testing.assert_array_equal(codes, want)


@pytest.mark.parametrize("overflow", ["saturate", "nan"])
def test_log_on_4m_float32_patterns(overflow):
    x = _float32_patterns("rf8")
    codes = rl.encode(x, "rf8", rounding="log", scale=None, overflow=overflow).codes
    want = vectorized.element_codes(x.astype(np.float64), np.zeros(x.size, np.int64), None, rl.format_info("rf8"),
                                    "log", overflow)
    np.testing.assert_array_equal(codes, want)


def test_stochastic_on_4m_float32_patterns():
    x = _float32_patterns("rf8")
    x = x[np.isfinite(x) & (np.abs(x) < 1.5)]
    bits = np.random.default_rng(2).integers(0, 2 ** 32, x.shape, dtype=np.uint32)
    q = rl.quantize(x, "rf8", rounding="stochastic", scale=None, random_bits=bits, dtype=np.float64)
    info = rl.format_info("rf8")
    ext = np.array([float(m) for m in info.magnitudes] + [1.75])
    a = np.abs(x.astype(np.float64))
    i = np.searchsorted(ext, a, side="right") - 1
    lo, hi = ext[i], ext[i + 1]
    up = (a != lo) & (bits * (hi - lo) < (a - lo) * 2.0 ** 32)
    np.testing.assert_array_equal(q, np.copysign(np.where(up, hi, lo), x))


def test_float64_near_every_threshold():
    """float64 inputs 1 and 2 ulps around every threshold and tie, at several scales, all modes."""
    pool = threshold_pool("rf8", np.dtype(np.float64))
    x = np.concatenate([pool * 2.0 ** k for k in (-3, 0, 9)])
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    L = kernels.log_breakpoints()[0]
    logt = np.concatenate([L, np.nextafter(L, 3), np.nextafter(L, 0)]) / 2
    x = np.concatenate([x, logt, -logt])
    for r in ("nearest", "log", "stochastic"):
        for s in (None, "tensor", "block"):
            kw = dict(rounding=r, scale=s, rng=3 if r == "stochastic" else None)
            _same(rl.encode(x, "rf8", backend="numba", **kw), rl.encode(x, "rf8", backend="reference", **kw))


@pytest.mark.parametrize("rounding", ["nearest", "log"])
def test_key_tables_with_subnormal_inputs(rounding):
    """Tiny float32 tensors (X near -140) put subnormal patterns inside the grid, where a 16-bit key
    does not decide and the exact second pass must; >= 2^16 elements so the key tables are used."""
    rng = np.random.default_rng(6)
    sub = rng.integers(1, 1 << 23, 1 << 16, dtype=np.uint32)  # every subnormal exponent range
    sub = (sub >> rng.integers(0, 23, sub.size).astype(np.uint32)).astype(np.uint32) | 1
    x = np.concatenate([sub.view(np.float32),
                        rng.integers(0x00800000, 0x01000000, 4096, dtype=np.uint32).view(np.float32)])
    x = x * rng.choice(np.array([-1, 1], np.float32), x.size)
    for scale in (None, "tensor"):
        kw = dict(rounding=rounding, scale=scale)
        _same(rl.encode(x, "rf8", backend="numba", **kw), rl.encode(x, "rf8", backend="reference", **kw))
        np.testing.assert_array_equal(rl.quantize(x, "rf8", **kw), rl.quantize(x, "rf8", backend="reference", **kw))


def test_int8_near_every_decision_point():
    """float64 inputs at and 1 ulp around k * s and (k + 1/2) * s, where s = absmax / 127 is rounded:
    the kernel's Dekker-corrected decisions equal the reference's exact ones, in both modes."""
    for amax in (1.0, 0.3, 7e-5, 3e10):
        s = amax / 127
        k = np.arange(128.0)
        pts = np.concatenate([k * s, (k + 0.5) * s])
        x = np.concatenate([[amax], pts, np.nextafter(pts, np.inf), np.nextafter(pts, 0)])
        x = np.concatenate([x, -x])
        for bits in (None, np.zeros(x.shape, np.uint32), np.full(x.shape, 2 ** 32 - 1, np.uint32),
                     np.random.default_rng(4).integers(0, 2 ** 32, x.shape, dtype=np.uint32)):
            r = "nearest" if bits is None else "stochastic"
            kw = dict(rounding=r, random_bits=bits)
            _same(rl.encode(x, "int8", backend="numba", **kw), rl.encode(x, "int8", backend="reference", **kw))


def test_noncontiguous_and_big_endian_inputs():
    x = np.random.default_rng(5).standard_normal((300, 400)).astype(">f4")[:, ::3]
    want = rl.encode(np.ascontiguousarray(x.astype("<f4")), "rf8", backend="reference")
    _same(rl.encode(x, "rf8"), want)


@pytest.mark.parametrize("fmt,rounding,overflow,scale,sr_bits", list(configs(scales=True)))
def test_every_mode_equals_vectorized_on_every_16_bit_pattern(fmt, rounding, overflow, scale, sr_bits):
    """Codes, scales and (through the one-pass value tables where they apply) quantized values, on every
    float16 pattern (10 mantissa bits: every key and sticky case of the tables; the tensor scale moves the
    grid across the binades), and on every bfloat16 pattern for RF8 and E4M3."""
    f = rl.format_info(fmt)
    for dtype in (np.float16, ml_dtypes.bfloat16) if fmt in ("rf8", "e4m3") else (np.float16,):
        x = ALL16.view(dtype)
        if not f.has_nan:
            x = np.where(np.isnan(x.astype(np.float32)), x.dtype.type(0), x)
        if scale in ("channel", "block") or scale == "auto" and f.block_format:
            x = x.reshape(256, 256)
        kw = dict(rounding=rounding, overflow=overflow, scale=scale, sr_bits=sr_bits,
                  random_bits=random_bits(rounding, sr_bits, x.shape))
        _same(rl.encode(x, fmt, backend="numba", **kw), rl.encode(x, fmt, backend="vectorized", **kw))
        if scale in ("auto", None, "tensor") and not f.block_format and not Rounding(rounding).stochastic:
            np.testing.assert_array_equal(rl.quantize(x, fmt, backend="numba", **kw).view(np.uint32),
                                          rl.quantize(x, fmt, backend="vectorized", **kw).view(np.uint32))


@pytest.mark.parametrize("fmt", ["int8", "int4", "uint4", "nvfp4"])
@pytest.mark.parametrize("size", [1e306, 1e-300, 1e-318], ids=["huge", "tiny", "subnormal"])
def test_float_multipliers_at_the_extremes_equal_vectorized(fmt, size):
    """Multipliers near float64's max and in the subnormals, where Dekker's products need rescaling."""
    f = rl.format_info(fmt)
    g = np.array([float(m) for m in f.extended])
    k = np.concatenate([g, (g[1:] + g[:-1]) / 2])
    pts = np.concatenate([k, -k]) * size
    x = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf), [5e-324, -5e-324, 0.0]])
    for rounding in f.roundings:
        sr_bits = None if rounding in ("nearest", "stochastic") or not rounding.stochastic else 5
        kw = dict(rounding=rounding, sr_bits=sr_bits, random_bits=random_bits(rounding, sr_bits, x.shape))
        _same(rl.encode(x, fmt, backend="numba", **kw), rl.encode(x, fmt, backend="vectorized", **kw))


@pytest.mark.parametrize("scale,axis", [("channel", 0), ("channel", 1), ("block", 1), ("block", 0)])
def test_binade_tables_equal_the_key_tables_on_every_bf16_pattern(scale, axis, monkeypatch):
    """Per channel and per block, the 16-bit key tables (few scale exponents) and the per-binade tables
    (everything else) are two fast paths to the same codes."""
    from rf8lab.codec import numba_backend
    every = ALL16.view(ml_dtypes.bfloat16)
    mag = np.abs(every.astype(np.float32))
    pool = every[(mag < 4) & (mag > 2.0 ** -6) | (mag == 0)]  # every pattern of 8 binades, and zeros
    x = np.random.default_rng(4).permutation(np.resize(pool, 1 << 16)).reshape(256, 256)  # few scales per group
    for fmt, rounding in (("rf8", "nearest"), ("e4m3", "toward-zero"), ("e2m1", "nearest-away")):
        kw = dict(rounding=rounding, scale=scale, axis=axis, **({"block": 64} if scale == "block" else {}))
        keyed = rl.encode(x, fmt, **kw)
        assert numba_backend._scaled_path(x, rl.format_info(fmt), keyed.layout, rounding)
        monkeypatch.setattr(numba_backend, "_scaled_path", lambda *a: False)
        _same(rl.encode(x, fmt, **kw), keyed)
        monkeypatch.undo()
        _same(keyed, rl.encode(x, fmt, backend="vectorized", **kw))


@pytest.mark.parametrize("rounding", ["nearest", "log", "toward-positive", "stochastic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binade_tables_on_float32_and_float64_patterns(rounding, dtype):
    """Random patterns over every binade (zeros, subnormals, inf and NaN among them), per channel and
    per block, against the vectorized codec."""
    width = np.uint32 if dtype == np.float32 else np.uint64
    bits = np.random.default_rng(3).integers(0, np.iinfo(width).max, 1 << 16, dtype=width, endpoint=True)
    x = bits.view(dtype).reshape(256, 256)
    x[::7, ::5] = 0
    for scale in ("channel", "block"):
        kw = dict(rounding=rounding, scale=scale, overflow="nan", random_bits=random_bits(rounding, None, x.shape))
        _same(rl.encode(x, "rf8", **kw), rl.encode(x, "rf8", backend="vectorized", **kw))
