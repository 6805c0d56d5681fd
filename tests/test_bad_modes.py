"""Bad input, class 1: no mode turns finite data into NaN or inf. "saturate" never returns inf (values past
the output dtype's range become its largest finite value), and the MX formats only saturate, as OCP MX v1.0
does."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rf8lab as rl

finite64 = st.floats(allow_nan=False, allow_infinity=False)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=150, deadline=None)
@given(x=st.one_of(arrays(np.float64, st.integers(1, 64), elements=finite64),
                   arrays(np.float32, st.integers(1, 64), elements=finite32)),
       fmt=st.sampled_from(rl.format_names()), scale=st.sampled_from(["auto", None, "tensor", "block"]),
       rounding=st.sampled_from(["nearest", "stochastic"]))
def test_saturate_never_gives_nan_or_inf_from_finite_input(codec, x, fmt, scale, rounding):
    if scale not in rl.format_info(fmt).scales:
        scale = "auto"
    q = codec.quantize(x, fmt, rounding=rounding, scale=scale, overflow="saturate")
    assert np.isfinite(q).all()


def test_the_examples_that_overflowed():
    assert rl.quantize(np.array([1.7e308]), "e5m2", overflow="saturate")[0] == np.finfo(np.float64).max
    assert rl.quantize(np.array([3.4e38], np.float32), "e4m3")[0] == np.finfo(np.float32).max
    assert np.isinf(rl.decode(np.array([0x7C], np.uint8), fmt="e5m2"))[0]  # a code that means inf keeps it
    w = np.random.default_rng(0).normal(0, 0.02, 10 ** 6).astype(np.float32)
    assert np.isfinite(rl.quantize(w, "mxfp8")).all()
    with pytest.raises(ValueError, match="overflow='nan' is not available for mxfp8"):
        rl.quantize(w, "mxfp8", overflow="nan")


def test_torch_saturates_the_same_way():
    torch = pytest.importorskip("torch")
    from rf8lab import torch as rt

    x = np.array([1.7e308, -1.7e308, 1.0])
    np.testing.assert_array_equal(rt.quantize(torch.from_numpy(x), "e5m2").numpy(), rl.quantize(x, "e5m2"))
