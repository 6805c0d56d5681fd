"""Comparison formats against ml_dtypes, and the scale rules of every format."""
import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl

from .helpers import assert_codes_match_peer

ML = {"e4m3": (ml_dtypes.float8_e4m3fn, "nan"), "e5m2": (ml_dtypes.float8_e5m2, "inf"),
      "e4m3fnuz": (ml_dtypes.float8_e4m3fnuz, "nan"), "e5m2fnuz": (ml_dtypes.float8_e5m2fnuz, "nan")}


def _float32_sample():
    """Every float16 value widened, plus random float32 bit patterns (NaN payloads and inf included)."""
    half = np.arange(2 ** 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    rand = np.random.default_rng(8).integers(0, 2 ** 32, 30000, dtype=np.uint32).view(np.float32)
    return np.concatenate([half, rand])


X32 = _float32_sample()


@pytest.mark.parametrize("fmt", list(ML))
def test_equals_ml_dtypes_on_float32(fmt):
    mdt, overflow = ML[fmt]
    ours = rl.encode(X32, fmt, scale=None, overflow=overflow).codes
    assert_codes_match_peer(ours, X32.astype(mdt).view(np.uint8), fmt)


@pytest.mark.parametrize("fmt", list(ML))
def test_saturate_differs_from_ml_dtypes_only_on_overflow(fmt):
    mdt, _ = ML[fmt]
    ours = rl.encode(X32, fmt, scale=None, overflow="saturate").codes
    theirs = X32.astype(mdt).view(np.uint8)
    special = ~np.isfinite(theirs.view(mdt).astype(np.float32)) & ~np.isnan(X32)
    assert_codes_match_peer(ours[~special], theirs[~special], fmt)
    info = rl.format_info(fmt)
    np.testing.assert_array_equal(np.abs(rl.value_table(fmt)[ours[special]]), float(info.max))


def test_fit_scale_uses_the_whole_range_without_saturating():
    x = np.array([3.0, -1e-3, 0.5])
    enc = rl.encode(x, "e4m3")  # smallest X with 3 <= 448 * 2^X: X = -7 (3 * 2^7 = 384)
    assert enc.scale_exp == -7
    assert rl.encode(np.array([448.0]), "e4m3").scale_exp == 0
    assert rl.encode(np.array([448.5]), "e4m3").scale_exp == 1


def test_rf8_scale_is_the_log_domain_exponent_of_absmax():
    for amax, want in [(1.0, 0), (1.41, 0), (1.42, 1), (0.7072, 0), (0.7070, -1), (3e-3, -8)]:
        assert rl.encode(np.array([amax, -amax / 3]), "rf8").scale_exp == want, amax


def test_mx_block_rule():
    """OCP MX: X = floor(log2(amax)) - 8 per 32-element block; elements saturate to 448."""
    x = np.zeros((2, 70))
    x[0, 0], x[0, 40], x[1, 69] = 500.0, 1.0, -3e-3
    enc = rl.encode(x, "mxfp8")
    assert enc.scale_exp.shape == (2, 3)
    np.testing.assert_array_equal(enc.scale_exp, [[0, -8, 0], [0, 0, -17]])
    q = rl.quantize(x, "mxfp8")
    assert q[0, 0] == 448.0  # 500 / 2^0 = 500 > 448: saturates, as the MX rule allows
    assert rl.encode(np.array([1e-300] * 4), "mxfp8").scale_exp.tolist() == [-127]  # E8M0 range


def test_int8_per_channel():
    x = np.random.default_rng(9).standard_normal((5, 33)) * np.arange(1, 6)[:, None]
    enc = rl.encode(x, "int8", scale="channel")
    assert enc.scale_exp is None and enc.multiplier.shape == (5,)
    k = enc.codes.view(np.int8)
    assert k.min() >= -127 and k.max() <= 127
    np.testing.assert_allclose(enc.multiplier, np.abs(x).max(axis=1) / 127, rtol=0)
    assert np.all(np.abs(k).max(axis=1) == 127)
    q = rl.quantize(x, "int8", scale="channel")
    np.testing.assert_array_equal(q, k * enc.multiplier[:, None])


def test_block_layout_and_partial_block():
    x = np.arange(1.0, 1.0 + 2 * 3 * 10).reshape(2, 3, 10)
    enc = rl.encode(x, "rf8", scale="block", block=4)
    assert enc.scale_exp.shape == (2, 3, 3)
    last = x[..., 8:]  # the partial block is scaled from its own two elements
    np.testing.assert_array_equal(enc.scale_exp[..., 2],
                                  [[rl.encode(last[i, j], "rf8").scale_exp for j in range(3)] for i in range(2)])
    enc1 = rl.encode(x, "rf8", scale="block", block=2, axis=1)
    assert enc1.scale_exp.shape == (2, 2, 10)
    ch = rl.encode(x, "rf8", scale="channel", axis=-1)
    assert ch.scale_exp.shape == (10,)
    for a in range(10):
        assert ch.scale_exp[a] == rl.encode(x[..., a], "rf8").scale_exp
