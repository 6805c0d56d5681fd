"""QuantSpec: one value per quantizer setting, parsed once, checked against its format, one key and label."""
import numpy as np
import pytest

import rf8lab as rl
from rf8lab import QuantSpec


@pytest.mark.parametrize("text, key, label", [
    ("rf8:log:none", "rf8:log:none", "rf8 log, unscaled"),
    ("rf8", "rf8:nearest:tensor", "rf8 nearest, tensor"),
    ("e4m3:tensor", "e4m3:nearest:tensor", "e4m3 nearest, tensor"),
    ("mxfp8", "mxfp8:nearest:block", "mxfp8 nearest, block"),
    ("E5M2:inf:channel:axis=1", "e5m2:nearest:channel:inf:axis=1", "e5m2 nearest, channel, overflow inf, axis 1"),
    ("rf8:block=64:block:stochastic", "rf8:stochastic:block:block=64", "rf8 stochastic, block, block 64"),
])
def test_parse_key_label(text, key, label):
    spec = QuantSpec.parse(text)
    assert spec.key == key and spec.label == label
    assert QuantSpec.parse(spec.key) == spec and QuantSpec(**spec.to_dict()) == spec and hash(spec) == hash(
        QuantSpec.parse(key))


@pytest.mark.parametrize("text, match", [
    ("", "non-empty string"),
    ("fp7", "unknown format"),
    ("rf8:sideways", "is not a rounding"),
    ("e4m3:log", "rounding='log' is not available for e4m3"),
    ("rf8:inf", "overflow='inf' is not available for rf8"),
    ("mxfp8:tensor", "scale='tensor' is not available for mxfp8"),
    ("rf8:nearest:log", "gives the rounding twice"),
    ("rf8:tensor:block=8", "takes no block size"),
    ("rf8:none:axis=0", "takes no axis"),
    ("rf8:block:block=0", "block must be a positive integer"),
])
def test_bad_specs_are_refused_at_the_boundary(text, match):
    with pytest.raises(ValueError, match=match):
        QuantSpec.parse(text)


def test_the_api_takes_a_spec_a_spec_string_or_arguments():
    x = np.random.default_rng(0).normal(0, 0.02, (8, 64)).astype(np.float32)
    by_args = rl.quantize(x, "rf8", rounding="log", scale="channel")
    assert np.array_equal(rl.quantize(x, "rf8:log:channel"), by_args)
    assert np.array_equal(rl.quantize(x, QuantSpec("rf8", "log", "channel")), by_args)
    assert np.array_equal(rl.quantize(x, "rf8:log:tensor", scale="channel"), by_args)  # arguments replace fields
    enc = rl.encode(x, "e4m3:block:block=16")
    assert enc.spec == QuantSpec("e4m3", scale="block", block=16) and enc.layout.scale_shape == (8, 4)
    assert enc.fmt == "e4m3" and enc.rounding == "nearest" and "e4m3:nearest:block:block=16" in repr(enc)
    with pytest.raises(TypeError, match="fmt must be"):
        rl.quantize(x, 8)


def test_for_shape_turns_channel_scales_on_a_vector_into_one_scale():
    spec = QuantSpec.parse("int8:channel")
    assert spec.for_shape((384,)) == QuantSpec.parse("int8:tensor") and spec.for_shape((4, 4)) is spec
