"""The vectorized codec (rf8lab/codec/vectorized.py: the torch codec and the exhaustive check's oracle)
equals the exact reference (Fractions) on every threshold and tie +-1 ulp, at several scales, in every
format, rounding and overflow mode, in numpy and torch."""
import itertools
from fractions import Fraction

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import reference, vectorized
from rf8lab.formats import get_format

from .helpers import threshold_pool

SCALES = (0, -9, 13)


def _configs():
    for fmt in rl.format_names():
        f = get_format(fmt)
        if f.scale_rule != "absmax":
            yield from ((fmt, r, o) for r, o in itertools.product(f.roundings, f.overflows))


def _inputs(fmt):
    pool = threshold_pool(fmt if fmt != "mxfp8" else "e4m3", np.dtype(np.float64))
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e300])
    return np.concatenate([pool, specials])


def _reference_codes(x, f, X, rounding, overflow, bits):
    vals = reference.exact_values(x)
    scale = Fraction(2) ** X
    return np.array([reference.encode_element(neg, mag, f, scale, rounding, overflow, int(b))
                     for (neg, mag), b in zip(vals, bits)], np.uint8)


@pytest.mark.parametrize("fmt,rounding,overflow", list(_configs()))
def test_float_codes_equal_the_reference(fmt, rounding, overflow):
    f = get_format(fmt)
    x = _inputs(fmt)
    bits = np.random.default_rng(3).integers(0, 2 ** 32, x.size, dtype=np.int64)
    for X in SCALES:
        xs = x * 2.0 ** X  # the same decisions at scale 2^X (5e-324 * 2^-9 flushes to 0: also a fine input)
        got = vectorized.float_codes(xs, np.full(x.size, X, np.int64), f, rounding, overflow, bits)
        np.testing.assert_array_equal(got, _reference_codes(xs, f, X, rounding, overflow, bits), err_msg=str(X))


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
    for fmt, rounding, overflow in _configs():
        f = get_format(fmt)
        x = _inputs(fmt)
        X = np.random.default_rng(4).integers(-20, 20, x.size)
        bits = np.random.default_rng(5).integers(0, 2 ** 32, x.size, dtype=np.int64)
        want = vectorized.float_codes(x, X, f, rounding, overflow, bits)
        got = vectorized.float_codes(torch.from_numpy(x), torch.from_numpy(X), f, rounding, overflow,
                                     torch.from_numpy(bits))
        np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{fmt} {rounding} {overflow}")


@pytest.mark.parametrize("s", [0.0371, 1.4e306, 1.5e-323], ids=["s=0.0371", "s=huge", "s=subnormal"])
@pytest.mark.parametrize("stochastic", [False, True])
def test_int8_codes_equal_the_reference(stochastic, s):
    """Every decision point k*s and (k + 1/2)*s +-1 ulp, at an ordinary, a huge (127 s near float64's
    max, where Dekker's split would overflow unscaled) and a subnormal scale."""
    f = get_format("int8")
    rng = np.random.default_rng(6)
    k = np.arange(-130, 131, dtype=np.float64)
    ties = (k + 0.5) * s
    x = np.concatenate([k * s, ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf),
                        rng.standard_normal(2000) * 60 * s, [0.0, -0.0, np.inf, -np.inf, 1e300, 5e-324]])
    bits = rng.integers(0, 2 ** 32, x.size, dtype=np.int64)
    got = vectorized.int8_codes(x, np.full(x.size, s), stochastic, bits)
    want = [reference.encode_element(neg, mag, f, Fraction(s), "stochastic" if stochastic else "nearest",
                                     "saturate", int(b)) for (neg, mag), b in zip(reference.exact_values(x), bits)]
    np.testing.assert_array_equal(got, np.array(want, np.uint8))


def test_unknown_rounding_is_an_error():
    with pytest.raises(ValueError, match="unknown rounding"):
        vectorized.float_codes(np.ones(2), np.zeros(2, np.int64), get_format("rf8"), "up", "saturate")


def test_reference_refuses_an_unknown_rounding():
    with pytest.raises(ValueError, match="unknown rounding 'up'"):
        reference.encode_element(False, Fraction(1), get_format("rf8"), Fraction(1), "up", "saturate")
