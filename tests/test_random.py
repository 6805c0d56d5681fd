"""Stochastic rounding's random bits: one counter-based generator (SplitMix64 of seed and element index)
on every backend, thread count and chunking; explicit random_bits replay it exactly."""
import numba
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.codec import kernels, reference, vectorized

# Vigna's splitmix64.c (prng.di.unimi.it/splitmix64.c) seeded with 0: its first four outputs.
SPLITMIX64_SEED0 = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]


def test_known_answers():
    assert [reference.draw_bits(0, i, 64) for i in range(4)] == SPLITMIX64_SEED0
    got = vectorized.draw_bits(np.uint64(0), np.arange(4, dtype=np.uint64), 64)
    assert [int(v) for v in got] == SPLITMIX64_SEED0


@pytest.mark.parametrize("nbits", [1, 5, 32])
def test_every_execution_model_draws_the_same_bits(nbits):
    seed, index = 2 ** 64 - 12345, np.arange(0, 10 ** 6, 997, dtype=np.uint64)
    want = [reference.draw_bits(seed, int(i), nbits) for i in index]
    assert vectorized.draw_bits(np.uint64(seed), index, nbits).tolist() == want
    jit = numba.njit(lambda s, i, b: kernels._draw_bits(s, i, b))
    assert [int(jit(np.uint64(seed), np.uint64(i), nbits)) for i in index[:50]] == want[:50]


def test_bits_are_uniform():
    bits = vectorized.random_bits(7, (1 << 20,)).astype(np.float64) / 2 ** 32
    assert abs(bits.mean() - 0.5) < 0.002 and abs(bits.var() - 1 / 12) < 0.001
    assert np.unique(vectorized.random_bits(7, (1 << 16,), sr_bits=4)).tolist() == list(range(16))


@pytest.mark.parametrize("fmt,scale", [("rf8", "tensor"), ("rf8", "channel"), ("e2m1", "block"),
                                       ("int8", "channel"), ("nvfp4", "auto")])
@pytest.mark.parametrize("sr_bits", [None, 6])
def test_a_seed_is_the_same_on_every_backend_and_replays(fmt, scale, sr_bits):
    x = np.random.default_rng(1).standard_normal((64, 96)).astype(np.float32)
    kw = dict(rounding="stochastic", scale=scale, sr_bits=sr_bits)
    codes = rl.encode(x, fmt, rng=99, **kw).codes
    for backend in ("vectorized", "reference"):
        np.testing.assert_array_equal(rl.encode(x, fmt, rng=99, backend=backend, **kw).codes, codes)
    replay = rl.encode(x, fmt, random_bits=rl.random_bits(99, x.shape, sr_bits), **kw).codes
    np.testing.assert_array_equal(replay, codes)
    np.testing.assert_array_equal(rl.quantize(x, fmt, rng=99, **kw), rl.decode(rl.encode(x, fmt, rng=99, **kw)))


def test_thread_count_and_size_do_not_change_the_bits():
    x = np.random.default_rng(2).standard_normal(300_001).astype(np.float32)
    want = rl.encode(x, "rf8", rounding="stochastic", rng=5).codes
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(rl.encode(x, "rf8", rounding="stochastic", rng=5).codes, want)
    finally:
        numba.set_num_threads(before)
    part = rl.encode(x[:1000], "rf8", rounding="stochastic", rng=5, scale=None).codes  # element i: bits of (seed, i)
    np.testing.assert_array_equal(part, rl.encode(x, "rf8", rounding="stochastic", rng=5, scale=None).codes[:1000])


def test_generators_and_bad_seeds():
    x = np.linspace(-1, 1, 1000, dtype=np.float32)
    a = rl.encode(x, "rf8", rounding="stochastic", rng=np.random.default_rng(3)).codes
    b = rl.encode(x, "rf8", rounding="stochastic", rng=np.random.default_rng(3)).codes
    np.testing.assert_array_equal(a, b)  # a Generator gives its seed by one draw: reproducible
    g = np.random.default_rng(3)
    assert not np.array_equal(rl.encode(x, "rf8", rounding="stochastic", rng=g).codes,
                              rl.encode(x, "rf8", rounding="stochastic", rng=g).codes)
    for bad in (-1, 2 ** 64):
        with pytest.raises(ValueError, match=r"\[0, 2\^64\)"):
            rl.encode(x, "rf8", rounding="stochastic", rng=bad)
    with pytest.raises(TypeError, match="rng must be"):
        rl.encode(x, "rf8", rounding="stochastic", rng="seed")
