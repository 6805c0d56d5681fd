"""RF8 log rounding: the paper's semantics."""
from fractions import Fraction

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import reference

# input -> output of the authors' published RF8 semantics (arXiv:2506.00486 and their code on
# huggingface.co/spaces/shifeng3711/gg_prior): log-domain rounding, no scale, no exponent limit
PAPER = {0: 0, 1.0: 1, 1.03: 1, 1.05: 1.0625, 1.1: 1.125, 1.2: 1.25, 1.3: 1.25, 1.36: 1.5, 1.45: 1.5,
         1.7: 1.75, 0.8: 0.75, 0.83: 0.875, 0.9: 0.875, 0.97: 1, 3: 3, 5: 5, 6: 6, 7: 7, -1.3: -1.25,
         0.02: 0.01953125, 0.0123: 0.01171875, -0.0071: -0.0068359375, 1e-5: 9.5367431640625e-06}
LO, HI = 0.75 * 2 ** -15, 1.5


@pytest.mark.parametrize("x,y", PAPER.items())
def test_paper_vectors_unbounded(x, y):
    a = Fraction(abs(x))
    got = 0 if a == 0 else float(reference.round_log(a))
    assert np.copysign(got, x) == y


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_paper_vectors_unscaled(backend):
    """scale=None is the paper's unscaled use: inside [0.75*2^-15, 1.5] the vectors hold exactly;
    above the window they saturate and below it they flush to zero."""
    x = np.array(list(PAPER), np.float64)
    y = np.array(list(PAPER.values()), np.float64)
    q = rl.quantize(x, "rf8", rounding="log", scale=None, backend=backend)
    inside = np.abs(y) <= HI
    inside &= (np.abs(y) >= LO) | (y == 0)
    np.testing.assert_array_equal(q[inside], y[inside])
    np.testing.assert_array_equal(q[np.abs(y) > HI], np.sign(y[np.abs(y) > HI]) * HI)
    np.testing.assert_array_equal(q[(y != 0) & (np.abs(y) < LO)], 0)
    # each value with its own tensor scale reproduces the paper everywhere
    each = np.array([rl.quantize(np.array([v]), "rf8", rounding="log", backend=backend)[0] for v in x])
    np.testing.assert_array_equal(each, y)


def test_log_thresholds_are_exact():
    """Just below / above 2^(1/2) and 1 + 2^(-k-1/2): the neighbouring float64 values decide."""
    edges = {1 + 2 ** -1.5: (1.25, 1.5), 1 + 2 ** -2.5: (1.125, 1.25),
             1 + 2 ** -3.5: (1.0625, 1.125), 1 + 2 ** -4.5: (1.0, 1.0625), 1 - 2 ** -4.5: (0.9375, 1.0),
             1 - 2 ** -3.5: (0.875, 0.9375), 1 - 2 ** -2.5: (0.75, 0.875)}
    for t, (below, above) in edges.items():
        t = Fraction(t)  # a float64 near the irrational threshold; find the two floats around it
        lo, hi = np.nextafter(float(t), 0), np.nextafter(float(t), 2)
        xs = np.array([lo, float(t), hi]) / 2  # scale into the window, away from max
        q = rl.quantize(xs, "rf8", rounding="log", scale=None) * 2
        assert q[0] == below and q[2] == above
        assert q[1] in (below, above)


def test_relative_error_bound():
    rng = np.random.default_rng(1)
    x = np.exp2(rng.uniform(np.log2(LO), np.log2(1.4), 20000))
    q = rl.quantize(x, "rf8", rounding="log", scale=None)
    rel = np.abs(q - x) / x
    bound = 1.5 / (1 + 2 ** -1.5) - 1  # just above 1.3536 * 2^e rounds up to 1.5 * 2^e: 10.8%
    assert rel.max() <= bound + 1e-15
    worst = 1 + 2 ** -1.5 + 1e-12
    assert abs(rl.quantize(np.array([worst / 2]), "rf8", rounding="log", scale=None)[0] * 2 / worst - 1 - bound) < 1e-9
    assert 0.10819 < bound < 0.10820
