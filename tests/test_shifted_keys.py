"""Per channel and per block, the Numba backend reads one key table at scale 0 at keys shifted by each group's
scale exponent, and takes each group's exponent from the scale rule tabulated per binade
(scale_rule.exponent_steps). Both equal the vectorized codec bit for bit, and the tabulated rule equals
group_scales on every maximum where it could differ."""
import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import kernels, numba_backend
from rf8lab.codec.scale_rule import POWER_OF_TWO_RULES, exponent_steps, group_scales

from .helpers import FAMILY, threshold_pool

ALL16 = np.arange(2 ** 16, dtype=np.uint16)
POWER_OF_TWO = [f for f in rl.format_names() if rl.format_info(f).scale_rule in POWER_OF_TWO_RULES]
LAYOUTS = [dict(scale="channel", axis=0), dict(scale="channel", axis=1), dict(scale="block", block=32),
           dict(scale="block", block=48), dict(scale="block", block=32, axis=0)]


def _same(a, b):
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.scale_exp, b.scale_exp)
    np.testing.assert_array_equal(a.multiplier, b.multiplier)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("fmt", POWER_OF_TWO)
def test_exponent_steps_equal_group_scales(fmt, dtype):
    """At the bottom and top of every normal binade, and 1 below, at and 1 above each step, plus zero."""
    f = rl.format_info(fmt)
    base, cut, x_none = exponent_steps(f, dtype)
    width, mbits = (np.uint64, 52) if dtype == np.float64 else (np.uint32, 23)
    E = np.arange(1, base.size - 1, dtype=np.int64)
    fields = [np.zeros_like(E), np.full_like(E, (1 << mbits) - 1)]
    c = cut[E]
    fields += [np.clip(c + d, 0, (1 << mbits) - 1) for d in (-1, 0, 1)]
    for m in fields:
        amax = ((E << mbits) | m).astype(width).view(dtype).astype(np.float64)
        want = group_scales(f, amax, "block")[0]
        np.testing.assert_array_equal(base[E] + (m > c), want, err_msg=fmt)
    assert x_none == group_scales(f, np.array([0.0]), "block")[0][0]


def test_scale_exps_kernel_equals_group_scales():
    """The kernel that applies the float64 steps, with subnormal maxima left to the caller."""
    rng = np.random.default_rng(0)
    amax = np.concatenate([np.exp2(rng.uniform(-1020, 1020, 5000)), [0.0, 5e-324, 1e-310, 2.0 ** -1022]])
    for fmt in ("rf8", "e4m3", "e2m1", "mxfp8"):
        f = rl.format_info(fmt)
        X = np.zeros(amax.size, np.int64)
        nsub = kernels.scale_exps(amax, *exponent_steps(f), X)
        normal = ~((amax > 0) & (amax < 2.0 ** -1022))
        assert nsub == (~normal).sum()
        np.testing.assert_array_equal(X[normal], group_scales(f, np.where(amax > 0, amax, -1.0), "block")[0][normal])


def _deterministic(fmt):
    return [str(r) for r in rl.format_info(fmt).roundings if not r.stochastic]


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("fmt", [f for f in FAMILY if not rl.format_info(f).float_scale])
def test_every_16_bit_pattern_in_every_layout(fmt, dtype):
    """Every pattern (infinities and NaNs as 0 where the format has no NaN), shuffled so that groups mix
    binades, in every deterministic rounding and every layout, contiguous groups and strided ones."""
    f = rl.format_info(fmt)
    x = np.random.default_rng(1).permutation(ALL16.view(dtype))
    if not f.has_nan:
        x = np.where(np.isfinite(x.astype(np.float32)), x, x.dtype.type(0))
    x = x.reshape(256, 256)
    for kw in LAYOUTS:
        if kw["scale"] not in f.scales or f.block_format and kw.get("block") == 48:
            continue
        for rounding in _deterministic(fmt):
            args = dict(rounding=rounding, **kw)
            _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))


def _hard_groups(dtype=np.float32):
    """(512, 512) GG-like weights whose rows hold groups with zeros, all zeros, an inf, a NaN, a subnormal, a
    float32 subnormal maximum, values 2^-140 below the maximum, and the largest float32."""
    rng = np.random.default_rng(2)
    w = (rng.laplace(size=(512, 512)) * 0.02).astype(dtype)
    w[3, :7] = 0
    w[4, :] = 0
    w[5, 100] = np.inf
    w[6, 3] = np.nan
    w[7, 4] = 1e-42
    w[9, :32] = rng.uniform(-1e-39, 1e-39, 32)
    w[10, 64:96] = -np.inf
    w[11, 5] = np.finfo(np.float32).max
    w[12, 0:32] = [2.0 ** -140] * 31 + [1.0]
    w[13, :] = -0.0
    return w


@pytest.mark.parametrize("fmt,overflow", [("rf8", "nan"), ("e4m3", "nan"), ("e5m2", "ovf-inf"),
                                          ("mxfp8", "sat-finite")])
def test_groups_with_exceptional_elements(fmt, overflow):
    """Every exceptional case inside a group, both signs, contiguous and strided groups, every deterministic
    rounding: equal to the vectorized codec."""
    w = _hard_groups()
    f = rl.format_info(fmt)
    for x in (w, -w):
        for kw in LAYOUTS:
            if kw["scale"] not in f.scales or f.block_format and kw.get("block") == 48:
                continue
            for rounding in _deterministic(fmt):
                args = dict(rounding=rounding, overflow=overflow, **kw)
                _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))


def test_which_path_runs():
    """Contiguous groups take the one-pass kernel, unless a group's maximum is a float32 subnormal (then the
    two passes, still exact); strided groups take the two passes; stochastic rounding neither."""
    f = rl.format_info("rf8")
    w = (np.random.default_rng(3).laplace(size=(512, 512)) * 0.02).astype(np.float32)
    block = rl.encode(w, "rf8", scale="block", block=32).layout
    rows = rl.encode(w, "rf8", scale="channel", axis=0).layout
    cols = rl.encode(w, "rf8", scale="channel", axis=1).layout
    assert numba_backend._encode_contiguous(w, f, block, "nearest", "sat-finite") is not None
    assert numba_backend._encode_contiguous(w, f, rows, "log", "sat-finite") is not None
    assert numba_backend._encode_contiguous(w, f, cols, "nearest", "sat-finite") is None
    tiny = w.copy()
    tiny[0, :32] = 1e-40
    assert numba_backend._encode_contiguous(tiny, f, block, "nearest", "sat-finite") is None
    _same(rl.encode(tiny, "rf8", scale="block", block=32), rl.encode(tiny, "rf8", scale="block", block=32,
                                                                      backend="vectorized"))
    assert numba_backend._scaled_path(w, f, block, "toward-zero")
    assert not numba_backend._scaled_path(w, f, block, "stochastic")
    assert not numba_backend._scaled_path(w.astype(np.float64), f, block, "nearest")


def _float64_inputs(fmt: str) -> np.ndarray:
    """Every threshold and tie of the format at scales 2^-3..2^9, 1 ulp either side, with the 29 mantissa
    bits below float32's all set or the last flipped, and random patterns over every binade (zeros,
    subnormals, infinities and NaNs among them), 2^17 in all."""
    pool = threshold_pool(fmt, np.dtype(np.float64))
    x = np.concatenate([pool * 2.0 ** k for k in (-3, 0, 9)])
    x = np.concatenate([x, np.nextafter(x, np.inf), np.nextafter(x, -np.inf)])
    bits = x.view(np.uint64)
    x = np.concatenate([x, (bits | np.uint64((1 << 29) - 1)).view(np.float64), (bits ^ np.uint64(1)).view(np.float64)])
    rng = np.random.default_rng(4)
    rest = rng.integers(0, 2 ** 64 - 1, (1 << 16) - x.size % (1 << 16), dtype=np.uint64, endpoint=True)
    return np.concatenate([x, rest.view(np.float64)])[: 1 << 17]


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "e5m2", "e2m1", "mxfp8"])
def test_float64_input_in_every_layout(fmt):
    """float64 input next to every threshold, at every granularity and deterministic rounding (per tensor with
    round-to-odd keys: the float32 key tables, kernels._keys64; else the per-binade tables)."""
    f = rl.format_info(fmt)
    x = _float64_inputs(fmt)
    if not f.has_nan:
        x = np.where(np.isnan(x), 0.0, x)
    x = x.reshape(256, -1)
    for scale in f.scales:
        for rounding in _deterministic(fmt):
            args = dict(rounding=rounding, scale=scale)
            assert not numba_backend._scaled_path(x, f, rl.encode(x[:1], fmt, **args).layout, rounding)
            _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))


@pytest.mark.parametrize("fmt", [f for f in FAMILY if not rl.format_info(f).float_scale])
def test_stochastic_rounding_of_float32_in_every_layout(fmt):
    """Every stochastic rule (exact, and with 5 random bits), drawn from a seed and replayed from given
    bits, both signs, on weights with exceptional elements and exact grid values, at every granularity."""
    f = rl.format_info(fmt)
    w = _hard_groups()[:256]
    grid = np.array([float(m) for m in f.magnitudes], np.float32)
    w[20, :grid.size] = grid * np.float32(2.0 ** -9)  # on the grid: never up
    if not f.has_nan:
        w = np.nan_to_num(w, nan=0.0, posinf=1.0, neginf=-1.0)
    rules = [(str(r), sr) for r in f.roundings if r.stochastic for sr in ((None, 5) if r == "stochastic" else (5,))]
    layouts = [dict(scale=s) for s in (None, "tensor") if s in f.scales] + [
        kw for kw in LAYOUTS if kw["scale"] in f.scales and not (f.block_format and kw.get("block") == 48)]
    for rounding, sr_bits in rules:
        for kw in layouts:
            for x in (w, -w):
                bits = np.random.default_rng(5).integers(0, 2 ** (sr_bits or 32), x.shape, dtype=np.uint32)
                for given in (dict(rng=7), dict(random_bits=bits)):
                    args = dict(rounding=rounding, sr_bits=sr_bits, **kw, **given)
                    _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))
    assert numba_backend._stochastic_path(w, f, "stochastic")
    assert not numba_backend._stochastic_path(np.zeros(w.shape, np.float16), f, "stochastic")


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "e5m2", "e2m1", "binary8p3se"])
def test_float64_keys_per_tensor(fmt):
    """float64 weights read at the round-to-odd keys of their float32 values (kernels._keys64): every threshold
    and tie at a weight-like scale 1 ulp either side, with the 29 bits below float32's mantissa all set, the
    last flipped, or one of the bits below the key's 7 set, next to elements the keys do not stand for
    (float32 subnormals and float64 ones, values beyond float32's range, zeros of both signs; unscaled also
    infinities and NaN), at every deterministic rounding."""
    f = rl.format_info(fmt)
    pool = threshold_pool(fmt, np.dtype(np.float64)) * 2.0 ** -9
    x = np.concatenate([pool, np.nextafter(pool, np.inf), np.nextafter(pool, -np.inf)])
    bits = x.view(np.uint64)
    x = np.concatenate([x, (bits | np.uint64((1 << 29) - 1)).view(np.float64), (bits ^ np.uint64(1)).view(np.float64)]
                       + [(bits | np.uint64(1 << j)).view(np.float64) for j in (28, 29, 44)])  # one bit the keys drop
    odd = np.array([1e-39, -1e-41, 5e-324, -1e-310, 1e-300, 0.0, -0.0, 2.0 ** -126, -(2.0 ** -126) * (1 - 2 ** -53)])
    x = np.resize(np.concatenate([x, -x, odd]), 1 << 17)
    for scale in [s for s in f.scales if s in (None, "tensor")]:
        y = x.copy()
        if scale is None:
            y[:6] = [1e39, -3.5e38, np.inf, -np.inf, np.nan if f.has_nan else 0.0, 2.0 ** 128]
            if not f.has_nan and not f.has_inf:
                y[2:4] = 0.0
        for rounding in _deterministic(fmt):
            layout = rl.encode(y[:1], fmt, rounding=rounding, scale=scale).layout
            assert numba_backend._fast_path(y, f, layout, rounding) == (rounding != "log")
            _same(rl.encode(y, fmt, rounding=rounding, scale=scale),
                  rl.encode(y, fmt, rounding=rounding, scale=scale, backend="vectorized"))


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "e5m2", "e2m1", "binary8p3se"])
def test_stochastic_ties_on_every_float16_value_as_float32(fmt):
    """Every float16 value as float32 (few significand bits: the random bits often land exactly on the
    fraction, where a rule's tie decides), per tensor, under every stochastic rule with 1 and 5 random bits
    replayed over all their values, and the exact rule drawn: the integer comparison at power-of-two grid steps
    (kernels._stochastic_spacing_up) and the float one elsewhere, against the vectorized codec."""
    f = rl.format_info(fmt)
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    x = np.where(np.isfinite(x), x, np.float32(0.5))
    scale = "tensor"
    assert numba_backend._stochastic_path(x, f, "stochastic")
    for rounding in [str(r) for r in f.roundings if r.stochastic]:
        for sr_bits in (1, 5):
            bits = (np.arange(x.size, dtype=np.uint32) % (1 << sr_bits)).reshape(x.shape)
            args = dict(rounding=rounding, sr_bits=sr_bits, scale=scale, random_bits=bits)
            _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))
    args = dict(rounding="stochastic", scale=scale, rng=11)
    _same(rl.encode(x, fmt, **args), rl.encode(x, fmt, backend="vectorized", **args))
