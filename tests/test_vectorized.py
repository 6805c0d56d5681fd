"""The vectorized codec (rf8lab/codec/vectorized.py: the torch codec and the exhaustive check's oracle)
equals the exact reference (Fractions) on every threshold and tie +-1 ulp, at several scales, in every
format, rounding and overflow mode, in numpy and torch."""
from fractions import Fraction

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import reference, vectorized
from rf8lab.formats import get_format
from rf8lab.policies import GRID_ROUNDINGS, Rounding

from .helpers import configs, threshold_pool

SCALES = (0, -9, 13)


def _configs():
    """Every power-of-two-scaled config of tests.helpers.configs (float multipliers: test_int8_*)."""
    for fmt, r, o, _, sr_bits in configs():
        if not get_format(fmt).float_scale:
            yield fmt, r, o, sr_bits


def _inputs(fmt):
    f = get_format(fmt)
    pool = threshold_pool(fmt, np.dtype(np.float64))
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e300])
    x = np.concatenate([pool, specials])
    return x if f.has_nan else x[~np.isnan(x)]  # NaN input is refused where the format has no NaN


def _reference_codes(x, f, X, rounding, overflow, bits, sr_bits=None):
    vals = reference.exact_values(x)
    scale = Fraction(2) ** X
    return np.array([reference.encode_element(neg, mag, f, scale, rounding, overflow, int(b), sr_bits)
                     for (neg, mag), b in zip(vals, bits)], np.uint8)


@pytest.mark.parametrize("fmt,rounding,overflow,sr_bits", list(_configs()))
def test_float_codes_equal_the_reference(fmt, rounding, overflow, sr_bits):
    f = get_format(fmt)
    x = _inputs(fmt)
    bits = np.random.default_rng(3).integers(0, 2 ** (sr_bits or 32), x.size, dtype=np.int64)
    for X in SCALES:
        xs = x * 2.0 ** X  # the same decisions at scale 2^X (5e-324 * 2^-9 flushes to 0: also a fine input)
        got = vectorized.element_codes(xs, np.full(x.size, X, np.int64), None, f, rounding, overflow, bits, sr_bits)
        np.testing.assert_array_equal(got, _reference_codes(xs, f, X, rounding, overflow, bits, sr_bits),
                                      err_msg=str(X))


def test_int8_all_backends_agree_at_the_extremes(codec):
    """Group maxima near float64's max and in the subnormals (the multiplier amax / 127 is then at
    least 2^-1074): codes and decoded values equal the reference's."""
    for x in (np.array([1e308, 7e307, -3e307, 1.0, 0.0]), np.array([np.finfo(np.float64).max, -1e300]),
              np.array([5e-324, 0.0, -5e-324]), np.array([3.2e-322, 3e-323, 0.0])):
        want = rl.encode(x, "int8", backend="reference")
        codes, _, scale = codec.encode(x, "int8")
        np.testing.assert_array_equal(codes, want.codes)
        np.testing.assert_array_equal(scale, want.multiplier)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_int8_decodes_to_16_bit_floats_rounded_once(codec, dtype):
    """int8 values are float64 products; the cast to a 16-bit float must round them once (torch,
    and ml_dtypes <= 0.6 for bfloat16, would go through float32 first)."""
    import ml_dtypes

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    x = np.random.default_rng(8).standard_normal(20000) * np.exp2(np.random.default_rng(9).uniform(-24, 8, 20000))
    got = codec.quantize(x, "int8", dtype=dt)
    exact = rl.quantize(x, "int8", dtype=np.float64, backend="reference")  # the float64 products
    # numpy's float64 -> float16 / float32 casts round once (IEEE); bfloat16 against the reference
    want = exact.astype(dt) if dtype != "bfloat16" else rl.quantize(x, "int8", dtype=dt, backend="reference")
    np.testing.assert_array_equal(np.asarray(got).view(np.uint16 if dt.itemsize == 2 else np.uint32),
                                  want.view(np.uint16 if dt.itemsize == 2 else np.uint32))


def test_torch_equals_numpy():
    torch = pytest.importorskip("torch")
    for fmt, rounding, overflow, sr_bits in _configs():
        f = get_format(fmt)
        x = _inputs(fmt)
        X = np.random.default_rng(4).integers(-20, 20, x.size)
        bits = np.random.default_rng(5).integers(0, 2 ** (sr_bits or 32), x.size, dtype=np.int64)
        want = vectorized.element_codes(x, X, None, f, rounding, overflow, bits, sr_bits)
        got = vectorized.element_codes(torch.from_numpy(x), torch.from_numpy(X), None, f, rounding, overflow,
                                       torch.from_numpy(bits), sr_bits)
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{fmt} {rounding} {overflow}")


MULTIPLIER_CONFIGS = [(fmt, r, None if r in ("nearest", "stochastic") or not Rounding(r).stochastic else 5)
                      for fmt in ("int8", "int4", "uint4", "nvfp4") for r in GRID_ROUNDINGS]
MULTIPLIER_CONFIGS.append(("int8", "stochastic", 5))


@pytest.mark.parametrize("s", [0.0371, 1.4e306, 1.5e-323], ids=["s=0.0371", "s=huge", "s=subnormal"])
@pytest.mark.parametrize("fmt,rounding,sr_bits", MULTIPLIER_CONFIGS)
def test_multiplier_codes_equal_the_reference(fmt, rounding, sr_bits, s):
    """Float multipliers (integers, NVFP4): every decision point g*s and each midpoint, +-1 ulp, at an
    ordinary, a huge (max * s near float64's max, where Dekker's split would overflow unscaled) and a
    subnormal scale, in every rounding."""
    f = get_format(fmt)
    rng = np.random.default_rng(6)
    g = np.array([float(m) for m in f.extended])
    k = np.concatenate([g, (g[1:] + g[:-1]) / 2])
    k = np.concatenate([k, -k])
    pts = k * s
    x = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf),
                        rng.standard_normal(2000) * float(f.max) / 2 * s, [0.0, -0.0, np.inf, -np.inf, 1e300, 5e-324]])
    bits = rng.integers(0, 2 ** (sr_bits or 32), x.size, dtype=np.int64)
    got = vectorized.element_codes(x, None, np.full(x.size, s), f, rounding, "sat-finite", bits, sr_bits)
    want = [reference.encode_element(neg, mag, f, Fraction(s), rounding, "sat-finite", int(b), sr_bits)
            for (neg, mag), b in zip(reference.exact_values(x), bits)]
    np.testing.assert_array_equal(got, np.array(want, np.uint8))


def test_unknown_rounding_is_an_error():
    with pytest.raises(ValueError, match="unknown rounding"):
        vectorized.element_codes(np.ones(2), np.zeros(2, np.int64), None, get_format("rf8"), "up", "sat-finite")


def test_reference_refuses_an_unknown_rounding():
    with pytest.raises(ValueError, match="unknown rounding 'up'"):
        reference.encode_element(False, Fraction(1), get_format("rf8"), Fraction(1), "up", "saturate")
