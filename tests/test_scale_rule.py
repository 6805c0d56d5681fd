"""The vectorized scale rule (numpy and torch, one function) equals the exact reference on every group
maximum near a decision: each format's thresholds +-1 ulp at scales 2^-1074..2^1023, subnormals,
powers of two, random magnitudes, and groups without a finite nonzero value."""
from fractions import Fraction

import numpy as np
import pytest

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


# Every scale rule, and for the fit rule formats whose max has a different mantissa (its threshold); the rest of
# the 53 formats share one of these paths and thresholds. NVFP4: below.
POWER_OF_TWO = ["rf8", "e4m3", "e5m2", "e4m3fnuz", "e4m3b11fnuz", "e3m4", "e5m3fnu", "e3m2", "e2m3", "e2m1",
                "binary8p1se", "binary8p4se", "binary8p7uf", "int8", "int4", "uint4", "mxfp8", "mxint8", "mxfp4",
                "mxrf8"]


@pytest.mark.parametrize("granularity", GRANULARITIES, ids=str)
@pytest.mark.parametrize("fmt", POWER_OF_TWO)
def test_numpy_equals_reference(fmt, granularity):
    amax = _maxima(fmt)
    X, mult = group_scales(get_format(fmt), amax, granularity)
    wantX, want_mult = _reference(fmt, amax, granularity)
    assert X.dtype == np.int64 and mult.dtype == np.float64
    np.testing.assert_array_equal(X, wantX)
    np.testing.assert_array_equal(mult, want_mult)


@pytest.mark.parametrize("granularity", GRANULARITIES, ids=str)
@pytest.mark.parametrize("fmt", POWER_OF_TWO)
def test_torch_equals_numpy(fmt, granularity):
    torch = pytest.importorskip("torch")
    amax = _maxima(fmt)
    X, mult = group_scales(get_format(fmt), amax, granularity)
    Xt, mult_t = group_scales(get_format(fmt), torch.from_numpy(amax), granularity)
    assert Xt.dtype == torch.int64 and mult_t.dtype == torch.float64
    np.testing.assert_array_equal(Xt.numpy(), X)
    np.testing.assert_array_equal(mult_t.numpy(), mult)


@pytest.mark.parametrize("top", [1.0, 3e-5, 7e20, 1e-30], ids=["1", "3e-5", "7e20", "1e-30"])
def test_nvfp4_scales_equal_the_reference(top):
    """NVFP4's two levels: the float32 tensor scale s, then per block the E4M3 value nearest to amax / (6 s),
    at every E4M3 value and midpoint times 6 s, +-1 ulp, and at empty and tiny blocks; numpy, torch and the
    exact reference alike."""
    from rf8lab.codec.scale_rule import nv_scales, tensor_scale

    f = get_format("nvfp4")
    s = tensor_scale(f, top)
    g = np.array([float(m) for m in get_format("e4m3").extended])
    pts = np.concatenate([g, (g[1:] + g[:-1]) / 2]) * 6 * s
    amax = np.concatenate([pts, np.nextafter(pts, 0), np.nextafter(pts, np.inf), [top, 0.0, -1.0, 5e-324]])
    amax = amax[(amax <= top) | (amax <= 0)]
    codes, mult = nv_scales(f, amax)
    want = [reference.nv_scale_of(f, Fraction(float(a)), Fraction(s)) if a > 0 else
            reference.nv_scale_of(f, Fraction(0), Fraction(s)) for a in amax]
    np.testing.assert_array_equal(codes, [c for c, _ in want])
    np.testing.assert_array_equal(mult, [float(m) for _, m in want])
    torch = pytest.importorskip("torch")
    codes_t, mult_t = nv_scales(f, torch.from_numpy(amax))
    np.testing.assert_array_equal(codes_t.numpy(), codes)
    np.testing.assert_array_equal(mult_t.numpy(), mult)


@pytest.mark.parametrize("shape,granularity,axis,block", [((4, 6, 5), "block", 1, 4), ((4, 6, 5), "block", -1, 2),
                                                          ((3, 4, 5), "block", 0, 2), ((7, 3), "channel", 0, None),
                                                          ((7, 3), "channel", 1, None), ((5,), "tensor", None, None),
                                                          ((5,), None, None, None)])
def test_group_of_equals_group_ids(shape, granularity, axis, block):
    """Layout.group_of (the kernels' arithmetic on indices) = Layout.group_ids (numpy's indices) everywhere."""
    from rf8lab.codec.layout import make_layout

    layout = make_layout(shape, granularity, axis, block)
    want = np.broadcast_to(layout.group_ids(), shape).reshape(-1)
    np.testing.assert_array_equal(layout.group_of(np.arange(want.size)), want)
