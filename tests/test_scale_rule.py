"""The vectorized scale rule (numpy and torch, one function) equals the exact reference on every group
maximum near a decision: each format's thresholds +-1 ulp at scales 2^-1074..2^1023, subnormals,
powers of two, random magnitudes, and groups without a finite nonzero value."""
from fractions import Fraction

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import reference
from rf8lab.codec.scale_rule import SQRT2_BELOW, group_scales, mantissa_threshold
from rf8lab.formats import get_format

GRANULARITIES = [None, "tensor", "channel"]


def _maxima(fmt) -> np.ndarray:
    f = get_format(fmt)
    edges = [1.0, 2 ** 0.5, mantissa_threshold(f) if mantissa_threshold(f) < 2 else 1.5, float(f.max)]
    k = np.arange(-1074, 1024, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        base = np.concatenate([np.ldexp(e, k.astype(int)) for e in edges])
    base = base[np.isfinite(base) & (base > 0)]
    near = np.concatenate([base, np.nextafter(base, 0), np.nextafter(base, np.inf)])
    rng = np.random.default_rng(0)
    rand = np.exp2(rng.uniform(-1070, 1020, 3000))
    tiny = np.array([5e-324, 1e-320, 2.0 ** -1022, np.nextafter(2.0 ** -1022, 0), 1.7976931348623157e308])
    a = np.concatenate([near, rand, tiny])
    return np.concatenate([a[np.isfinite(a) & (a > 0)], [0.0, -1.0]])


def _reference(fmt, amax, granularity):
    f = get_format(fmt)
    out = [reference.scale_of(f, Fraction(float(a)), granularity) if a > 0 else (0, Fraction(1)) for a in amax]
    # 2^X is inf in float64 past 2^1023 (RF8's log rule reaches X = 1024 for amax near float64's max)
    mult = [float(m) if m < 2 ** 1024 else np.inf for _, m in out]
    return np.array([x for x, _ in out], np.int64), np.array(mult)


def test_sqrt2_below_is_the_largest_float_below_sqrt2():
    assert Fraction(SQRT2_BELOW) ** 2 < 2 < Fraction(np.nextafter(SQRT2_BELOW, 2)) ** 2


@pytest.mark.parametrize("granularity", GRANULARITIES, ids=str)
@pytest.mark.parametrize("fmt", rl.format_names())
def test_numpy_equals_reference(fmt, granularity):
    amax = _maxima(fmt)
    X, mult = group_scales(get_format(fmt), amax, granularity)
    wantX, want_mult = _reference(fmt, amax, granularity)
    assert X.dtype == np.int64 and mult.dtype == np.float64
    np.testing.assert_array_equal(X, wantX)
    np.testing.assert_array_equal(mult, want_mult)


@pytest.mark.parametrize("granularity", GRANULARITIES, ids=str)
@pytest.mark.parametrize("fmt", rl.format_names())
def test_torch_equals_numpy(fmt, granularity):
    torch = pytest.importorskip("torch")
    amax = _maxima(fmt)
    X, mult = group_scales(get_format(fmt), amax, granularity)
    Xt, mult_t = group_scales(get_format(fmt), torch.from_numpy(amax), granularity)
    assert Xt.dtype == torch.int64 and mult_t.dtype == torch.float64
    np.testing.assert_array_equal(Xt.numpy(), X)
    np.testing.assert_array_equal(mult_t.numpy(), mult)
