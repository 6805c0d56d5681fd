"""Properties every rounding mode must have, on every implementation of the codec."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rf8lab as rl

from .helpers import grid

finite32 = st.floats(-2.0 ** 100, 2.0 ** 100, allow_nan=False, width=32)
vectors = arrays(np.float32, st.integers(1, 40), elements=finite32)
MODES = [("rf8", "nearest"), ("rf8", "log"), ("e4m3", "nearest"), ("e5m2", "nearest"), ("int8", "nearest"),
         ("mxfp8", "nearest")]


@pytest.mark.parametrize("fmt,rounding", MODES)
@settings(max_examples=60, deadline=None)
@given(x=vectors)
def test_sign_symmetry(codec, fmt, rounding, x):
    q = codec.quantize(x, fmt, rounding=rounding)
    np.testing.assert_array_equal(codec.quantize(-x, fmt, rounding=rounding), -q)


@pytest.mark.parametrize("fmt,rounding", MODES)
@settings(max_examples=60, deadline=None)
@given(x=vectors)
def test_monotone(codec, fmt, rounding, x):
    s = np.sort(x) if fmt != "mxfp8" else np.sort(x[:32])  # one scale: mxfp8's block is 32 elements
    q = codec.quantize(s, fmt, rounding=rounding, scale="tensor" if fmt != "mxfp8" else "auto")
    assert np.all(np.diff(q) >= 0)


@pytest.mark.parametrize("fmt,rounding", MODES[:-1])
@settings(max_examples=60, deadline=None)
@given(x=vectors)
def test_idempotent_at_fixed_scale(codec, fmt, rounding, x):
    q = codec.quantize(x, fmt, rounding=rounding, scale=None)
    np.testing.assert_array_equal(codec.quantize(q, fmt, rounding=rounding, scale=None), q)


@pytest.mark.parametrize("fmt,rounding", [("rf8", "nearest"), ("rf8", "log"), ("e4m3", "nearest"),
                                          ("e5m2fnuz", "nearest")])
@settings(max_examples=40, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e6, 1e6, allow_nan=False)),
       k=st.integers(-40, 40))
def test_power_of_two_equivariance_with_tensor_scale(codec, fmt, rounding, x, k):
    q = codec.quantize(x, fmt, rounding=rounding, scale="tensor")
    np.testing.assert_array_equal(codec.quantize(np.ldexp(x, k), fmt, rounding=rounding, scale="tensor"),
                                  np.ldexp(q, k))


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz"])
def test_nearest_error_within_half_gap(codec, fmt):
    mags, ext = grid(fmt)
    rng = np.random.default_rng(2)
    x = rng.uniform(0, mags[-1], 20000)
    q = codec.quantize(x, fmt, scale=None, dtype=np.float64)
    i = np.searchsorted(ext, x, side="right") - 1
    half_gap = (ext[i + 1] - ext[i]) / 2
    assert np.all(np.abs(q - x) <= half_gap)


@pytest.mark.parametrize("scale", [None, "tensor", "channel", "block"])
def test_values_lie_on_the_scaled_grid(codec, scale):
    x = np.random.default_rng(3).standard_normal((6, 70)) * np.logspace(-3, 2, 6)[:, None]
    codes, scale_exp, _ = codec.encode(x, "rf8", scale=scale)
    layout = rl.encode(x, "rf8", scale=scale).layout  # which elements share a scale (rf8lab/codec/layout.py)
    x_exp = layout.expand(scale_exp)
    values = np.ldexp(rl.value_table("rf8")[codes], x_exp)
    np.testing.assert_array_equal(codec.quantize(x, "rf8", scale=scale), values)
    # and the default scale rule keeps the largest value at E = 15 with nothing saturated
    if scale is not None:
        assert np.all((codes & 0x7F) >> 3 <= 15)
        assert np.all(np.abs(x) < 2 ** 0.5 * np.ldexp(1.0, x_exp))  # below 1.414 * 2^X < max 1.5 * 2^X
