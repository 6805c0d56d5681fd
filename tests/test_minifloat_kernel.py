"""The arithmetic kernels of IEEE-like minifloats (kernels.encode_minifloat: nearest, float32, one scale; and
kernels._minifloat_stochastic inside stochastic_scaled) equal the vectorized codec on every 16-bit key with the
low bits that decide ties and sticky bits, at every scale exponent they take, and hand everything else to the
table kernels."""
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import kernels, numba_backend, vectorized
from rf8lab.codec.layout import make_layout

MINIFLOATS = [n for n in rl.format_names() if numba_backend.minifloat_layout(rl.format_info(n)) is not None]
# one of each element format (mxfp8's elements are e4m3's, and so on)
DISTINCT = list({(numba_backend.minifloat_layout(rl.format_info(n)), rl.format_info(n).nan_codes,
                  rl.format_info(n).overflows): n for n in reversed(MINIFLOATS)}.values())
HIGH = np.arange(1 << 16, dtype=np.uint32) << 16
# the low 16 bits: exact, a tie at 16 bits and both sides of it (every threshold has at most 7 fraction bits)
PATTERNS = np.concatenate([HIGH | low for low in (0, 0x7FFF, 0x8000, 0xFFFF)])


def test_which_formats_are_ieee_like():
    """The OCP, ml_dtypes and MX floats with -0 and sign-magnitude codes; not FNUZ, unsigned, RF8 or int8."""
    assert {"e4m3", "e5m2", "e4m3-ieee", "e3m4", "e3m2", "e2m3", "e2m1"} <= set(MINIFLOATS)
    for name in ("rf8", "int8", "e4m3fnuz", "e5m2fnuz", "e5m3fnu", "nvfp4"):
        if name in rl.format_names():
            assert name not in MINIFLOATS
    assert numba_backend.minifloat_layout(rl.format_info("e4m3")) == (3, -6, 126, 128)
    assert numba_backend.minifloat_layout(rl.format_info("e5m2")) == (2, -14, 123, 128)


def _bounds(shape):
    """Least and greatest scale exponent the kernel takes (kernels.minifloat_in_bounds)."""
    taken = [X for X in range(-400, 400) if kernels.minifloat_in_bounds(X, shape.mbits, shape.emin)]
    assert taken == list(range(taken[0], taken[-1] + 1))
    return taken[0], taken[-1]


@pytest.mark.parametrize("fmt", DISTINCT)
def test_every_key_at_every_scale_equals_vectorized(fmt):
    f = rl.format_info(fmt)
    shape = numba_backend.minifloat_layout(f)
    x = PATTERNS.view(np.float32)
    if f.nan_codes is None:
        x = np.where(np.isnan(x), np.float32(0), x)
    inp = numba_backend._bits(x)
    lo, hi = _bounds(shape)
    with np.errstate(invalid="ignore"):  # NaN payloads
        x64 = x.astype(np.float64)
    for overflow in f.overflows:
        specials = numba_backend.minifloat_specials(f, "nearest", str(overflow))
        for X in (lo, -1, 0, 9, hi):
            out = np.empty(x.size, np.uint8)
            kernels.encode_minifloat(inp.bits, inp.floats, X, *shape, specials, None, out)
            want = vectorized.element_codes(x64, np.full(x.size, X, np.int64), None, f, "nearest", overflow)
            np.testing.assert_array_equal(out, want, err_msg=f"{fmt} {overflow} X={X}")


def _stochastic_codes(f, x, X, rounding, overflow, bits, sr_bits):
    """kernels.stochastic_scaled per tensor at scale exponent X with the given random bits."""
    inp = numba_backend._bits(x)
    floor0, ext, rank_code = numba_backend.stochastic_tables(f, rounding, overflow)
    out = np.empty(x.size, np.uint8)
    return kernels.stochastic_scaled(
        inp.bits, inp.floats, floor0, ext, rank_code, len(f.magnitudes),
        numba_backend.stochastic_key_table(f, rounding, overflow), np.array([X], np.int32), 0, (1, x.size, 1), 1,
        kernels.ROUND[rounding], kernels.OVER[overflow], np.uint64(0), bits, -1 if sr_bits is None else sr_bits,
        kernels.tables(f.name, rounding), out, numba_backend.minifloat_layout(f),
        numba_backend.minifloat_specials(f, rounding, str(overflow)))


@pytest.mark.parametrize("fmt", DISTINCT)
def test_stochastic_on_every_key_at_every_scale_equals_vectorized(fmt):
    """Every stochastic rule (the exact one, and those with 5 random bits) on every 16-bit key with the low bits
    above: random bits at the least and greatest scale exponent the kernel takes and at -1, 0 and 9; at the least
    and at 0 also bits at the ends (0, all ones) and just either side of the element's own part below the grid
    step."""
    f = rl.format_info(fmt)
    shape = numba_backend.minifloat_layout(f)
    x = PATTERNS.view(np.float32)
    if f.nan_codes is None:
        x = np.where(np.isnan(x), np.float32(0), x)
    with np.errstate(invalid="ignore"):
        x64 = x.astype(np.float64)
    lo, hi = _bounds(shape)
    rng = np.random.default_rng(3)
    rules = [(str(r), sr) for r in f.roundings if r.stochastic for sr in ((None, 5) if r == "stochastic" else (5,))]
    for rounding, sr_bits in rules:
        nbits = 32 if sr_bits is None else sr_bits
        for k, X in enumerate((lo, -1, 0, 9, hi)):
            overflow = f.overflows[k % len(f.overflows)]
            # the bits of |x| / 2^X below its grid step, as the top nbits of a 32-bit draw: R equal to them, one
            # below and one above decide every comparison's edge
            a = np.abs(x64) * 2.0 ** -X
            with np.errstate(invalid="ignore", divide="ignore"):
                step = np.where(a >= 2.0 ** shape.emin, 2.0 ** (np.floor(np.log2(np.where(a > 0, a, 1.0)))
                                                                  - shape.mbits), 2.0 ** (shape.emin - shape.mbits))
                frac = np.nan_to_num(np.mod(a, step) / step)
            part = np.clip(np.floor(frac * 2.0 ** nbits), 0, 2 ** nbits - 1).astype(np.int64)
            edges = (part, part - 1, part + 1, np.zeros(x.size, np.int64), np.full(x.size, 2 ** nbits - 1))
            for bits in (rng.integers(0, 2 ** nbits, x.size),) + (edges if X in (lo, 0) else ()):
                bits = np.clip(bits, 0, 2 ** nbits - 1).astype(np.uint32)
                got = _stochastic_codes(f, x, X, rounding, overflow, bits, sr_bits)
                want = vectorized.element_codes(x64, np.full(x.size, X, np.int64), None, f, rounding, overflow,
                                                bits.astype(np.int64), sr_bits)
                np.testing.assert_array_equal(got, want, err_msg=f"{fmt} {rounding} {sr_bits} {overflow} X={X}")


def test_the_encoder_takes_it_for_float32_nearest_one_scale(monkeypatch):
    """Per tensor and unscaled float32, rounded to nearest; quantize's values in the same pass; a scale outside
    the kernel's bounds (a tensor near 2^-130) and every other rounding, granularity and dtype go to the tables."""
    f = rl.format_info("e4m3")
    calls = []
    real = kernels.encode_minifloat
    monkeypatch.setattr(kernels, "encode_minifloat", lambda *a: calls.append(a[2]) or real(*a))
    x = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32) * 30
    for scale in (None, "tensor"):
        enc = rl.encode(x, "e4m3", scale=scale)
        np.testing.assert_array_equal(enc.codes, rl.encode(x, "e4m3", scale=scale, backend="reference").codes)
        np.testing.assert_array_equal(rl.quantize(x, "e4m3", scale=scale),
                                      rl.decode(rl.encode(x, "e4m3", scale=scale, backend="reference")))
    assert len(calls) >= 3
    tiny = (x * np.float32(2.0 ** -135)).astype(np.float32)  # X about -133 < -126 - emin = -120
    assert numba_backend._minifloat_path(tiny, f, make_layout(tiny.shape, "tensor"), "nearest", -133) is None
    calls.clear()
    np.testing.assert_array_equal(rl.encode(tiny, "e4m3", scale="tensor").codes,
                                  rl.encode(tiny, "e4m3", scale="tensor", backend="reference").codes)
    rl.encode(x, "e4m3", rounding="toward-zero")
    rl.encode(x.astype(np.float64), "e4m3")
    rl.encode(x, "e4m3fnuz")
    rl.encode(x, "mxfp8", scale="block")
    assert calls == []


@pytest.mark.parametrize("fmt,scale,axis", [("mxfp8", "block", -1), ("mxfp8-e5m2", "block", -1),
                                            ("e4m3", "channel", 0), ("e5m2", "block", -1), ("mxfp4", "block", -1)])
def test_contiguous_groups_equal_vectorized(fmt, scale, axis, monkeypatch):
    """Blocks along the last axis and channels along the first go through the same arithmetic group by group
    (kernels.encode_contiguous), each at its own scale exponent: random patterns of every binade, whole groups
    of tiny values (exponents beyond the kernel's bounds: the tables), infinities and NaNs."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2 ** 32, (256, 256), dtype=np.uint32).view(np.float32).copy()
    x[:8] = rng.standard_normal((8, 256)).astype(np.float32) * np.float32(2.0 ** -135)  # X below the bounds
    x[8:16] = rng.standard_normal((8, 256)).astype(np.float32)
    if rl.format_info(fmt).nan_codes is None:
        x[np.isnan(x)] = 0
    calls = []
    real = kernels.encode_contiguous
    monkeypatch.setattr(kernels, "encode_contiguous", lambda *a: calls.append(a[-2]) or real(*a))
    got = rl.encode(x, fmt, scale=scale, axis=axis)
    assert calls and calls[0][0] >= 0  # the minifloat layout was passed
    want = rl.encode(x, fmt, scale=scale, axis=axis, backend="vectorized")
    np.testing.assert_array_equal(got.codes, want.codes)
    np.testing.assert_array_equal(got.scale_exp, want.scale_exp)
