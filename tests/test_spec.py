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
    ("E5M2:inf:channel:axis=1", "e5m2:nearest:channel:ovf-inf:axis=1",
     "e5m2 nearest, channel, overflow ovf-inf, axis 1"),  # rf8lab 0.1's name for ovf-inf
    ("e5m2:saturate", "e5m2:nearest:tensor", "e5m2 nearest, tensor"),
    ("float4_e2m1fn:toward-zero:none", "e2m1:toward-zero:none", "e2m1 toward-zero, unscaled"),
    ("binary8p3se:stochastic:sr_bits=8:sat-propagate", "binary8p3se:stochastic:tensor:sat-propagate:sr_bits=8",
     "binary8p3se stochastic, tensor, overflow sat-propagate, random bits 8"),
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
    ("rf8:inf", "overflow='ovf-inf' is not available for rf8"),
    ("e4m3:ovf-inf", "overflow='ovf-inf' is not available for e4m3; choose one of 'sat-finite', 'nan'"),
    ("e2m1:nan", "overflow='nan' is not available for e2m1; choose one of 'sat-finite'"),
    ("int8:log", "rounding='log' is not available for int8"),
    ("e4m3:nearest:sr_bits=4", "takes no sr_bits"),
    ("e4m3:stochastic-fast", "needs sr_bits"),
    ("e4m3:stochastic:sr_bits=33", "sr_bits must be an integer from 1 to 32"),
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


def test_defaults_are_one_key_and_a_new_scale_starts_fresh():
    assert QuantSpec.parse("rf8:block:block=32") == QuantSpec.parse("rf8:block")
    assert QuantSpec.parse("rf8:channel:axis=0").key == "rf8:nearest:channel"
    x = np.ones((4, 64), np.float32)
    assert rl.encode(x, "rf8:block:block=64", scale="tensor").spec.key == "rf8:nearest:tensor"
    assert rl.encode(x, "rf8:channel:axis=1", scale="block").layout.axis == 1  # the block default: the last axis
    with pytest.raises(ValueError, match="mxfp8 has blocks of 32"):
        QuantSpec.parse("mxfp8:block=64")


def test_raw_codes_decode_in_every_format_and_encoded_stays_with_its_library():
    import dataclasses

    from rf8lab.formats.minifloat import E4M3

    for name in rl.format_names():
        n = rl.format_info(name).codes
        codes = np.arange(n, dtype=np.uint8)
        np.testing.assert_array_equal(rl.decode(codes, fmt=name, dtype=np.float64), rl.value_table(name)[:n])
        if n < 256:
            with pytest.raises(ValueError, match=f"holds {n}, not a"):
                rl.decode(np.array([n], np.uint8), fmt=name)
    with pytest.raises(ValueError, match="not one of rf8lab's"):
        rl.quantize(np.ones(3), dataclasses.replace(E4M3, name="mine"))
    torch = pytest.importorskip("torch")
    from rf8lab import torch as rt

    with pytest.raises(TypeError, match="rf8lab.torch.decode"):
        rl.decode(rt.encode(torch.ones(4), "rf8"))
    with pytest.raises(TypeError, match="rf8lab.decode"):
        rt.decode(rl.encode(np.ones(4), "rf8"))
