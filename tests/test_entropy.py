"""Entropy coding: exact round trips, known code lengths, corrupt streams, and the size figures."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rf8lab as rl
from rf8lab import entropy


def test_exp_golomb_known_codes():
    # order 0: 0 -> "1", 1 -> "010", 2 -> "011", 3 -> "00100"; order 1: 0 -> "10", 2 -> "0100"
    assert entropy.eg_lengths(np.array([0, 1, 2, 3, 6, 7]), 0).tolist() == [1, 3, 3, 5, 5, 7]
    assert entropy.eg_lengths(np.array([0, 1, 2, 5, 6]), 1).tolist() == [2, 2, 4, 4, 6]
    b = entropy.compress(np.array([0, -1, 1]), k=0)  # zig-zag: 0, 2, 1 -> "1" "011" "010" = 1011 010(0)
    payload = b[entropy._HEAD.size:-4]
    assert payload == bytes([0b10110100])
    n = np.arange(0, 5000, dtype=np.uint64)
    for k in (0, 1, 3):
        assert (entropy.eg_lengths(n, k) == 2 * np.floor(np.log2(n.astype(float) + 2 ** k)) - k + 1).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-2 ** 40, 2 ** 40), max_size=300), st.integers(0, 6), st.booleans(), st.booleans())
def test_round_trip(values, k, ranked, zero_runs):
    x = np.array(values, np.int64)
    out = entropy.decompress(entropy.compress(x, k=k, ranked=ranked, zero_runs=zero_runs))
    assert out.dtype == np.int64 and np.array_equal(out, x)


@pytest.mark.parametrize("kw", [{}, {"ranked": True}, {"zero_runs": True}, {"ranked": True, "zero_runs": True, "k": 2}])
def test_stream_size_matches_lengths(kw):
    x = np.round(np.random.default_rng(0).laplace(0, 2, 20000)).astype(np.int64)
    b = entropy.compress(x, **kw)
    _, _, k, flags, n, nbits = entropy._HEAD.unpack_from(b)
    table = 4 + 8 * len(entropy.rank_table(x)) if kw.get("ranked") else 0
    assert n == x.size and len(b) == entropy._HEAD.size + table + (nbits + 7) // 8 + 4
    if not kw.get("zero_runs"):
        u = entropy.zigzag(x) if not kw.get("ranked") else None
        if u is not None:
            assert nbits == entropy.eg_lengths(u, k).sum()


def test_corrupt_streams():
    b = bytearray(entropy.compress(np.arange(-50, 50), k=1))
    with pytest.raises(entropy.CodingError, match="magic"):
        entropy.decompress(b"XXXXX" + bytes(b[5:]))
    with pytest.raises(entropy.CodingError, match="too short"):
        entropy.decompress(b[:10])
    flipped = bytearray(b)
    flipped[30] ^= 0x10
    with pytest.raises(entropy.CodingError, match="CRC-32"):
        entropy.decompress(bytes(flipped))
    cut = bytes(b[:-9])
    with pytest.raises(entropy.CodingError, match="CRC-32|truncated"):
        entropy.decompress(cut + __import__("struct").pack("<I", __import__("zlib").crc32(cut)))
    with pytest.raises(entropy.CodingError, match="symbols must be integers"):
        entropy.compress(np.array([0.5]))
    with pytest.raises(entropy.CodingError, match="order k"):
        entropy.compress(np.array([1]), k=40)


def test_huffman_and_entropy():
    counts = np.array([45, 13, 12, 16, 9, 5])  # the textbook example: lengths 1, 3, 3, 3, 4, 4
    L = entropy.huffman_lengths(counts)
    assert sorted(L.tolist()) == [1, 3, 3, 3, 4, 4] and L[0] == 1
    assert (2.0 ** -L).sum() == 1.0  # complete prefix code (Kraft equality)
    assert entropy.huffman_lengths([0, 7, 0]).tolist() == [0, 1, 0]
    p = counts / counts.sum()
    H = entropy.entropy_bits(counts)
    assert H == pytest.approx(-(p * np.log2(p)).sum())
    assert H <= (L * p).sum() < H + 1


def test_bits_per_param():
    rng = np.random.default_rng(1)
    w = rng.laplace(0, 0.01, 100000)
    r = entropy.bits_per_param(w, step=2 ** -10)
    assert r["entropy"] <= r["huffman"] < r["entropy"] + 1
    s = np.round(w / 2 ** -10).astype(np.int64)
    assert r["exp_golomb"] >= r["entropy"] and r["fixed"] == np.ceil(np.log2(s.max() - s.min() + 1))
    assert r["exp_golomb_signed"] == entropy.eg_lengths(entropy.zigzag(s), 0).sum() / s.size
    enc = rl.encode(w.astype(np.float32), "rf8")
    r8 = entropy.bits_per_param(enc)
    assert r8["fixed"] == 8 and r8["entropy"] < 8 and r8["n"] == w.size
    assert entropy.bits_per_param(enc.codes, fmt="rf8") == r8
    with pytest.raises(entropy.CodingError, match="quantization step"):
        entropy.bits_per_param(w)
