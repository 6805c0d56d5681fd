"""Nearest rounding equals an exhaustive nearest search over the value table, for every input dtype."""
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import rf8lab as rl

from .helpers import FLOAT_DTYPES, brute_nearest, threshold_pool

N_PER_EXAMPLE, EXAMPLES = 10_000, 10  # >= 1e5 values per input dtype
NO_SHRINK = (Phase.explicit, Phase.generate)  # a seed does not shrink; a failure prints it


def _draw(dtype, seed, frac_pool, fmt="rf8"):
    """A mix of threshold/tie values (+-1 ulp), random bit patterns and log-uniform values."""
    rng = np.random.default_rng(seed)
    pool = threshold_pool(fmt, dtype)
    n_pool = int(N_PER_EXAMPLE * frac_pool)
    n_bits = (N_PER_EXAMPLE - n_pool) // 2
    parts = [rng.choice(pool, n_pool)]
    width = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[dtype.itemsize]
    parts.append(rng.integers(0, np.iinfo(width).max, n_bits, dtype=width, endpoint=True).view(dtype))
    n_log = N_PER_EXAMPLE - n_pool - n_bits
    with np.errstate(over="ignore"):
        logu = np.exp2(rng.uniform(-20, 1, n_log)) * rng.choice([-1, 1], n_log)
        parts.append(logu.astype(dtype))
    return np.concatenate(parts)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@settings(max_examples=EXAMPLES, deadline=None, database=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 2 ** 32 - 1), frac_pool=st.floats(0.2, 0.8))
def test_rf8_nearest_equals_brute_force(dtype, seed, frac_pool):
    x = _draw(dtype, seed, frac_pool)
    for overflow in ("saturate", "nan"):
        q = rl.quantize(x, "rf8", scale=None, overflow=overflow, dtype=np.float64, backend="reference")
        np.testing.assert_array_equal(q, brute_nearest(x.astype(np.float64), "rf8", overflow))


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "int8"])
@settings(max_examples=3, deadline=None, database=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_other_formats_nearest_equals_brute_force(fmt, seed):
    x = _draw(np.dtype(np.float64), seed, 0.6, fmt)
    x = x[np.isfinite(x)] if fmt == "int8" else x
    q = rl.quantize(x, fmt, scale=None, dtype=np.float64, backend="reference")
    np.testing.assert_array_equal(q, brute_nearest(x, fmt))


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_rf8_single_values_shrinkable(v):
    """Classic hypothesis on single values (shrinks to a minimal counterexample)."""
    x = np.array([v], np.float32)
    for overflow in ("saturate", "nan"):
        q = rl.quantize(x, "rf8", scale=None, overflow=overflow, dtype=np.float64)
        np.testing.assert_array_equal(q, brute_nearest(x.astype(np.float64), "rf8", overflow))


def test_exact_ties_go_to_even_rank():
    info = rl.format_info("rf8")
    mags = [float(m) for m in info.magnitudes]
    mids = np.array([(a + b) / 2 for a, b in zip(mags, mags[1:])])
    q = rl.quantize(mids, "rf8", scale=None)
    want = np.array([mags[i] if i % 2 == 0 else mags[i + 1] for i in range(len(mids))])
    np.testing.assert_array_equal(q, want)


def test_every_input_dtype_rounds_from_the_exact_value():
    """Values that every dtype holds exactly quantize identically whatever the dtype."""
    x64 = threshold_pool("rf8", np.dtype(ml_dtypes.float8_e4m3fn)).astype(np.float64)
    want = rl.quantize(x64, "rf8", scale=None)
    for dt in FLOAT_DTYPES:
        np.testing.assert_array_equal(rl.quantize(x64.astype(dt), "rf8", scale=None, dtype=np.float64), want)
    ints = np.arange(-300, 300)
    for dt in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        sub = ints[(ints >= np.iinfo(dt).min) & (ints <= np.iinfo(dt).max)]
        np.testing.assert_array_equal(rl.quantize(sub.astype(dt), "rf8"), rl.quantize(sub.astype(np.float64), "rf8"))


def test_int64_beyond_2_53_has_no_double_rounding():
    """t = 2^60 (1 + 2^-5) is the tie between 2^60 and 1.0625 * 2^60; t +- 1 are not ties, but
    both round to t in float64. Exact rounding must go up for t + 1 and down for t - 1."""
    t = 2 ** 60 + 2 ** 55
    x = np.array([t + 1, t - 1, t, 2 ** 60], np.int64)
    q = rl.quantize(x, "rf8")  # tensor scale: X = 60
    info = rl.format_info("rf8")
    r1 = info.rank[Fraction(1)]  # 2^60 at X = 60 has the rank of 1 at X = 0
    tie = 2.0 ** 60 if r1 % 2 == 0 else 1.0625 * 2.0 ** 60
    np.testing.assert_array_equal(q, [1.0625 * 2.0 ** 60, 2.0 ** 60, tie, 2.0 ** 60])
    big = np.array([2 ** 64 - 1], np.uint64)
    assert rl.quantize(big, "rf8")[0] == 2.0 ** 64


def test_e4m3_float64_rounds_once():
    """float64 input rounds once from its exact value. -432 is the tie between -416 and -448 (it goes
    to -448, the even code); the float64 just inside it must give -416, although the float32 nearest
    to it is the tie itself."""
    x = np.array([-431.99999999999994, -432.0, -432.00000000000006])
    assert np.float32(x[0]) == -432.0  # IEEE: so rounding through float32 first would give -448
    q = rl.quantize(x, "e4m3", scale=None)
    np.testing.assert_array_equal(q, [-416.0, -448.0, -448.0])
    np.testing.assert_array_equal(q, brute_nearest(x, "e4m3"))
