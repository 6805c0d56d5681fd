"""rl.decode(enc, out=buf): the values land in buf, equal to a fresh decode; bad buffers are refused."""
import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
BACKENDS = ["numba", "vectorized", "reference"]
CASES = [  # (fmt, keyword arguments of encode)
    ("rf8", {}),
    ("rf8", {"scale": "channel", "axis": 0}),
    ("mxfp8", {}),
    ("int8", {}),
    ("e4m3", {"scale": None, "overflow": "sat-finite"}),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("fmt,kw", CASES, ids=[f"{f}-{'-'.join(map(str, k.values()))}" for f, k in CASES])
def test_decode_into_out_equals_a_fresh_decode(backend, dtype, fmt, kw):
    x = np.random.default_rng(3).standard_normal((8, 64)) * 0.05
    x[0, :4] = [0.0, -0.0, 3e4, -7e4]  # beyond float16 and E4M3 (unscaled, sat-finite): both saturate
    enc = rl.encode(x.astype(np.float32), fmt, backend=backend, **kw)
    want = rl.decode(enc, dtype, backend=backend)
    out = np.full(x.shape, np.nan, dtype)
    got = rl.decode(enc, out=out, backend=backend)
    assert got is out
    np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))  # bit for bit, signed zeros too
    assert rl.decode(enc, dtype, out=np.empty_like(out), backend=backend).dtype == np.dtype(dtype)


def test_a_buffer_used_again_is_overwritten():
    out = np.empty((4, 32), np.float32)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((4, 32)).astype(np.float32)
        enc = rl.encode(x, "rf8")
        np.testing.assert_array_equal(rl.decode(enc, out=out), rl.decode(enc))


def test_empty_and_zero_d():
    enc = rl.encode(np.zeros((0, 3), np.float32), "rf8")
    out = np.empty((0, 3), np.float32)
    assert rl.decode(enc, out=out) is out
    enc = rl.encode(np.float32(1.5), "rf8")
    out = np.empty((), np.float32)
    assert rl.decode(enc, out=out) is out and out == 1.5


@pytest.mark.parametrize("out,dtype,match", [
    (np.empty((4, 8), np.float32), np.float32, r"out has shape \(4, 8\); the codes have shape \(8, 4\)"),
    (np.empty((8, 4), np.int32), np.float32, "of dtype int32"),
    (np.empty((8, 8), np.float32)[:, ::2], np.float32, "not C-contiguous"),
    ([[0.0] * 4] * 8, np.float32, "got list"),
    (np.ma.zeros((8, 4), np.float32), np.float32, "got MaskedArray"),
    (np.empty((8, 4), np.float32), np.float64, "dtype=float64 and out's dtype float32 disagree"),
])
def test_a_bad_buffer_is_refused_and_named(out, dtype, match):
    enc = rl.encode(np.ones((8, 4), np.float32), "rf8")
    with pytest.raises((TypeError, ValueError), match=match):
        rl.decode(enc, dtype, out=out)


def test_a_read_only_buffer_is_refused():
    out = np.empty((8, 4), np.float32)
    out.flags.writeable = False
    with pytest.raises(TypeError, match="read-only"):
        rl.decode(rl.encode(np.ones((8, 4), np.float32), "rf8"), out=out)


@pytest.mark.parametrize("fmt,block", [("mxfp8", 32), ("nvfp4", 16), ("rf8", 1 << 15), ("e4m3", 48)])
def test_block_decode_equals_the_vectorized_one(fmt, block):
    """The Numba decode of blocks (one loop per block, its multiplier held; blocks wider than a parallel chunk
    start inside one) against the vectorized codec, on weights whose block scales spread over 2^40."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 1 << 16)) * np.exp2(rng.integers(-20, 20, (4, 1 << 16)))).astype(np.float32)
    enc = rl.encode(x, fmt, scale="block", block=block)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(rl.decode(enc, dtype).view(np.uint8),
                                      rl.decode(enc, dtype, backend="vectorized").view(np.uint8))
