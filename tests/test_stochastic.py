"""Stochastic rounding: only the two neighbours, unbiased, reproducible."""
import numpy as np
import pytest

import rf8lab as rl

from .helpers import grid


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "int8"])
def test_only_the_two_neighbours(fmt):
    mags, ext = grid(fmt)
    x = np.random.default_rng(4).uniform(0, mags[-1], 5000) * np.random.default_rng(5).choice([-1, 1], 5000)
    q = rl.quantize(x, fmt, rounding="stochastic", scale=None, rng=7)
    a = np.abs(x)
    i = np.searchsorted(ext, a, side="right") - 1
    lo, hi = ext[i], ext[np.minimum(i + 1, len(ext) - 1)]
    assert np.all((np.abs(q) == lo) | (np.abs(q) == hi))
    assert np.all((q == 0) | (np.sign(q) == np.sign(x)))


def test_unbiased():
    """Fixed seed; 20000 draws per value; the mean is within 4.5 standard errors of the input
    (a false alarm about once in 150,000 runs per value)."""
    mags, ext = grid("rf8")
    xs = np.array([0.3, 0.0123, 1.01, 1.45, 3e-5, -0.7])
    n = 20000
    x = np.repeat(xs, n)
    q = rl.quantize(x, "rf8", rounding="stochastic", scale=None, rng=np.random.default_rng(11),
                    dtype=np.float64).reshape(len(xs), n)
    for v, row in zip(xs, q):
        a = abs(v)
        i = np.searchsorted(ext, a, side="right") - 1
        lo, hi = ext[i], ext[i + 1]
        p = (a - lo) / (hi - lo)
        se = (hi - lo) * np.sqrt(p * (1 - p) / n)
        assert abs(row.mean() - v) <= 4.5 * se, (v, row.mean(), se)


def test_reproducible_and_explicit_bits():
    x = np.linspace(-1.4, 1.4, 999)
    a = rl.quantize(x, "rf8", rounding="stochastic", rng=3)
    assert np.array_equal(a, rl.quantize(x, "rf8", rounding="stochastic", rng=3))
    g = np.random.default_rng(3)  # a Generator gives the seed: one draw of 64 bits
    seed = int(np.random.default_rng(3).integers(0, 2 ** 64, dtype=np.uint64))
    assert np.array_equal(rl.quantize(x, "rf8", rounding="stochastic", rng=g),
                          rl.quantize(x, "rf8", rounding="stochastic", rng=seed))
    assert np.array_equal(a, rl.quantize(x, "rf8", rounding="stochastic", random_bits=rl.random_bits(3, x.shape)))
    up = rl.quantize(x, "rf8", rounding="stochastic", scale=None, random_bits=np.zeros(x.shape, np.uint32))
    down = rl.quantize(x, "rf8", rounding="stochastic", scale=None,
                       random_bits=np.full(x.shape, 2 ** 32 - 1, np.uint32))
    # bits = 0: always away from zero (unless exact); bits = max: always toward zero
    assert np.all(np.abs(up) >= np.abs(x)) and np.all(np.abs(down) <= np.abs(x))


def test_stochastic_overflow():
    x = np.array([1.6, -1.6])  # between max 1.5 and the next step 1.75
    up = np.zeros(2, np.uint32)
    assert np.isnan(rl.quantize(x, "rf8", rounding="stochastic", scale=None, overflow="nan", random_bits=up)).all()
    np.testing.assert_array_equal(rl.quantize(x, "rf8", rounding="stochastic", scale=None, random_bits=up),
                                  [1.5, -1.5])
