"""NaN, inf, overflow, zero, empty and 0-d inputs; every rejected input names the problem."""
import math

import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl

NAN, INF = math.nan, math.inf
SPECIAL = np.array([NAN, INF, -INF, 1.7, -1.7, 1.6, 1.625, 1.624, -0.0, 1e-9])
WANT = {  # RF8, scale=None: nearest overflows above 1.625 (the tie overflows: rank 113 is odd)
    ("nearest", "saturate"): [NAN, 1.5, -1.5, 1.5, -1.5, 1.5, 1.5, 1.5, 0, 0],
    ("nearest", "nan"): [NAN, NAN, NAN, NAN, NAN, 1.5, NAN, 1.5, 0, 0],
    # log: 1.7 -> 2 - 0.25 = 1.75 overflows; 1.6 and 1.625 -> 2 - 0.5 = 1.5
    ("log", "saturate"): [NAN, 1.5, -1.5, 1.5, -1.5, 1.5, 1.5, 1.5, 0, 0],
    ("log", "nan"): [NAN, NAN, NAN, NAN, NAN, 1.5, 1.5, 1.5, 0, 0],
}


@pytest.mark.parametrize("rounding,overflow", WANT)
def test_rf8_specials(codec, rounding, overflow):
    q = codec.quantize(SPECIAL, "rf8", rounding=rounding, overflow=overflow, scale=None)
    np.testing.assert_array_equal(q, WANT[(rounding, overflow)])
    codes, _, _ = codec.encode(SPECIAL, "rf8", rounding=rounding, overflow=overflow, scale=None)
    assert codes[0] == 0x80 and codes[8] == 0x00  # NaN code; -0.0 has no code of its own
    assert not np.signbit(q[8])


@pytest.mark.parametrize("overflow", ["saturate", "nan"])
def test_rf8_specials_stochastic(codec, overflow):
    q = codec.quantize(SPECIAL[:3], "rf8", rounding="stochastic", overflow=overflow, scale=None, rng=0)
    want = [NAN, 1.5, -1.5] if overflow == "saturate" else [NAN] * 3
    np.testing.assert_array_equal(q, want)


def test_fp8_overflow_modes(codec):
    x = np.array([1e6, -1e6, INF, NAN, -NAN])

    def codes(x, fmt, **kw):
        return codec.encode(x, fmt, scale=None, **kw)[0].tolist()

    assert codes(x, "e4m3") == [0x7E, 0xFE, 0x7E, 0x7F, 0xFF]
    assert codes(x, "e4m3", overflow="nan") == [0x7F, 0xFF, 0x7F, 0x7F, 0xFF]
    assert codes(x, "e5m2", overflow="inf") == [0x7C, 0xFC, 0x7C, 0x7E, 0xFE]
    assert codes(x, "e4m3fnuz", overflow="nan") == [0x80] * 5
    assert codes(np.array([-0.0, -1e-30]), "e4m3") == [0x80, 0x80]  # -0 exists
    assert codes(np.array([-0.0, -1e-30]), "e4m3fnuz") == [0, 0]


def test_empty_and_zero_d(codec):
    q = codec.quantize(np.float32(0.3), "rf8")
    assert q.shape == () and q.dtype == np.float32 and q == 0.3125  # X = -2; 1.2 -> 1.25
    assert codec.quantize(np.zeros((0, 3)), "rf8").shape == (0, 3)
    assert codec.encode(np.zeros((0, 3)), "rf8", scale="channel")[1].shape == (0,)
    codes, scale_exp, _ = codec.encode(np.zeros(5), "rf8")
    assert scale_exp == 0 and not codes.any()  # an all-zero group gets X = 0


def test_output_dtypes():
    assert rl.quantize(np.ones(3), "rf8").dtype == np.float64
    assert rl.quantize(np.ones(3, np.int16), "rf8").dtype == np.float64
    for dt in (np.float16, np.float32, ml_dtypes.bfloat16, ml_dtypes.float8_e5m2):
        assert rl.quantize(np.ones(3, dt), "rf8").dtype == np.float32
    assert rl.quantize(np.ones(3), "rf8", dtype=ml_dtypes.bfloat16).dtype == ml_dtypes.bfloat16
    assert rl.decode(rl.encode(np.ones(3), "rf8")).dtype == np.float32
    big_endian = np.arange(10, dtype=">f4") / 7
    np.testing.assert_array_equal(rl.quantize(big_endian, "rf8"), rl.quantize(big_endian.astype("<f4"), "rf8"))
    strided = np.arange(40.0).reshape(4, 10)[:, ::3]
    np.testing.assert_array_equal(rl.quantize(strided, "rf8"), rl.quantize(strided.copy(), "rf8"))


@pytest.mark.parametrize("bad", [np.array([True, False]), np.array([1 + 2j]), np.array(["a"]),
                                 np.array([object()]), np.array([1.0], np.longdouble)], ids=lambda a: a.dtype.name)
def test_rejected_dtypes_say_what_is_accepted(bad):
    with pytest.raises(TypeError, match=r"dtype .* it accepts float16, bfloat16"):
        rl.quantize(bad, "rf8")


@pytest.mark.parametrize("kwargs,match", [
    (dict(fmt="fp9"), r"unknown format 'fp9'; known formats: rf8, e4m3"),
    (dict(fmt="e4m3", rounding="log"), r"rounding='log' is not available for e4m3; choose one of 'nearest'"),
    (dict(fmt="rf8", rounding="up"), r"rounding='up' is not available for rf8"),
    (dict(fmt="rf8", overflow="inf"),
     r"overflow='ovf-inf' is not available for rf8; choose one of 'sat-finite', 'nan'"),
    (dict(fmt="int8", overflow="nan"), r"overflow='nan' is not available for int8"),
    (dict(fmt="mxfp8", scale="tensor"), r"scale='tensor' is not available for mxfp8; choose one of 'block'"),
    (dict(fmt="rf8", scale="row"), r"scale='row' is not available for rf8"),
    (dict(fmt="rf8", scale="channel", axis=3), r"axis=3 is out of range for an array of 2 dimension"),
    (dict(fmt="rf8", scale="block", block=0), r"block must be a positive integer up to 2\^40; got 0"),
    (dict(fmt="rf8", scale="tensor", axis=1), r"scale='tensor' takes no axis"),
    (dict(fmt="rf8", scale="channel", block=4), r"scale='channel' takes no block size"),
    (dict(fmt="rf8", rounding="stochastic", random_bits=np.zeros(3, np.uint32)),
     r"random_bits must be a uint32 array of shape \(2, 3\)"),
    (dict(fmt="rf8", rounding="stochastic", rng=1, random_bits=np.zeros((2, 3), np.uint32)),
     r"either rng or random_bits"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rl.encode(np.ones((2, 3)), **kwargs)


def test_more_bad_arguments():
    with pytest.raises(ValueError, match="0-d array"):
        rl.encode(np.float32(1), "rf8", scale="channel")
    with pytest.raises(TypeError, match="rng must be None, an int seed or a numpy Generator; got str"):
        rl.encode(np.ones(2), "rf8", rounding="stochastic", rng="seed")
    with pytest.raises(TypeError, match="dtype='int32' is not an output dtype; choose float16, bfloat16"):
        rl.quantize(np.ones(2), "rf8", dtype="int32")
    with pytest.raises(ValueError, match="int8 has no NaN code and the input contains NaN"):
        rl.quantize(np.array([1.0, NAN]), "int8")
    with pytest.raises(TypeError, match="decode takes an rf8lab.Encoded, or a uint8 array of codes with fmt"):
        rl.decode(np.ones(3))
    with pytest.raises(ValueError, match="backend must be one of"):
        rl.quantize(np.ones(2), "rf8", backend="gpu")
    with pytest.raises(ValueError, match="does not match the Encoded's format 'rf8'"):
        rl.decode(rl.encode(np.ones(2), "rf8"), fmt="e4m3")
