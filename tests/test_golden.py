"""Golden hashes: a 2^24 slice of all float32 patterns through the kernels (analysis/verify_exhaustive.py
checks every chunk against the exact reference; its hashes for all 2^32 are in docs/verification.md)."""
import hashlib

import numpy as np
import pytest

import rf8lab as rl

# chunk 60 of verify_exhaustive.py: patterns 0x3C000000..0x3CFFFFFF (2^-7 <= x < 2^-5, inside RF8's window)
SLICE = {
    ("rf8", "nearest", "saturate"): "28fc2cfeda32f8f616c886da7d46e3cb4ccab4b98cc7b7077752b7a3eebd834a",
    ("rf8", "log", "nan"): "5bb87f4e267874767077d68b669d2b1930fd9a37411256e70305e5ac863baa1a",
    ("e4m3", "nearest", "nan"): "4da4b28e66fa924aa2c528919c47fbfd8a9a082c05445c77a8c90ced47880288",
    ("e5m2", "nearest", "inf"): "8ac923f22e4bbc0c6522c50f76dd3e034e38a99dc8d3cf77a6698a794b9738e9",
}


@pytest.fixture(scope="module")
def patterns():
    return np.arange(60 << 24, 61 << 24, dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize("cfg", SLICE, ids=lambda c: "/".join(c))
def test_slice_hash(patterns, cfg):
    fmt, rounding, overflow = cfg
    codes = rl.encode(patterns, fmt, rounding=rounding, overflow=overflow, scale=None).codes
    assert hashlib.sha256(codes.tobytes()).hexdigest() == SLICE[cfg]
