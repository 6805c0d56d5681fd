"""Entropy coding of quantized weights: exp-Golomb codes that really write and read bytes, Huffman
code lengths, empirical entropy, and `bits_per_param`, which puts them side by side.

Stream layout (all integers little-endian):

    magic b"RF8EG" | version u8 | k u8 | flags u8 (1: ranked symbols, 2: zero run-length)
    n u64 | payload bits u64 | [ranked: m u32, then m symbols as i64] | payload | CRC-32 u32

The CRC covers everything before it. Symbols are signed integers of magnitude below 2^62 (so that every
code fits 64 bits); without ranking they are mapped
to non-negative ones by zig-zag (0, 1, -1, 2, -2, ... -> 0, 1, 2, 3, 4, ...). With ranking, the most
frequent symbol becomes 0, the next 1, and so on (ties by symbol value), and the table is stored.
Zero run-length codes each non-zero symbol as (run of zeros before it, symbol - 1), then the
trailing run; "zero" is the symbol that maps to 0.
"""
from __future__ import annotations

import heapq
import struct
import zlib

import numba as nb
import numpy as np

MAGIC = b"RF8EG"
VERSION = 1
RANKED, ZERO_RUNS = 1, 2
_HEAD = struct.Struct("<5sBBBQQ")
LIMIT = 1 << 62  # |symbol| < LIMIT: zig-zag values stay below 2^63 and every code below 64 bits
MAX_SYMBOLS = 1 << 26  # decompress's default bound on the announced count (512 MiB of int64 output)


class CodingError(ValueError):
    pass


# ---- symbol maps ---------------------------------------------------------------------------------
def zigzag(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.int64)
    return np.where(v > 0, 2 * v - 1, -2 * v).astype(np.uint64)


def unzigzag(u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, np.int64)
    return np.where(u % 2 == 1, (u + 1) // 2, -(u // 2))


def rank_table(symbols: np.ndarray) -> np.ndarray:
    """Distinct symbols, most frequent first (ties: smaller symbol first)."""
    vals, counts = np.unique(np.asarray(symbols, np.int64), return_counts=True)
    return vals[np.lexsort((vals, -counts))]


# ---- exp-Golomb ----------------------------------------------------------------------------------
def eg_lengths(u: np.ndarray, k: int = 0) -> np.ndarray:
    """Bits of the order-k exp-Golomb code of each non-negative integer: 2*floor(log2(u + 2^k)) - k + 1."""
    u = np.asarray(u, np.uint64) + np.uint64(1 << k)
    return 2 * (_bit_length(u) - 1) - k + 1


def _bit_length(u: np.ndarray) -> np.ndarray:
    out = np.zeros(u.shape, np.int64)
    u = u.copy()
    for s in (32, 16, 8, 4, 2, 1):
        big = u >= (np.uint64(1) << np.uint64(s))
        out[big] += s
        u[big] >>= np.uint64(s)
    return out + (u > 0)


@nb.njit(cache=True)
def _write(values, k, buf):
    """Order-k exp-Golomb codes of values, MSB first, into buf; returns the bit count."""
    pos = 0
    for i in range(values.size):
        x = values[i] + (np.uint64(1) << np.uint64(k))
        nb_ = 0
        t = x
        while t:
            nb_ += 1
            t >>= np.uint64(1)
        pos += nb_ - 1 - k  # leading zeros (the buffer starts zeroed)
        for b in range(nb_ - 1, -1, -1):
            if (x >> np.uint64(b)) & np.uint64(1):
                buf[pos >> 3] |= np.uint8(0x80 >> (pos & 7))
            pos += 1
    return pos


@nb.njit(cache=True)
def _read(buf, nbits, count, k, out):
    """Decode `count` order-k exp-Golomb codes from the first nbits bits; returns the number decoded
    (less than count if the stream ends early, -1 if a code is too long to be valid)."""
    pos = 0
    for i in range(count):
        z = 0
        while pos < nbits and not (buf[pos >> 3] >> (7 - (pos & 7))) & 1:
            z += 1
            pos += 1
        if pos >= nbits:
            return i
        if z + k > 63:
            return -1
        n = z + k + 1
        if pos + n > nbits:
            return i
        x = np.uint64(0)
        for _ in range(n):
            x = (x << np.uint64(1)) | np.uint64((buf[pos >> 3] >> (7 - (pos & 7))) & 1)
            pos += 1
        out[i] = x - (np.uint64(1) << np.uint64(k))
    return count


def _runs(u: np.ndarray) -> np.ndarray:
    """(zero run, value - 1) pairs for the non-zero values, then the trailing run."""
    nz = np.flatnonzero(u)
    runs = np.diff(np.concatenate([[-1], nz])) - 1
    out = np.empty(2 * nz.size + 1, np.uint64)
    out[0:-1:2] = runs
    out[1:-1:2] = u[nz] - np.uint64(1)  # uint64 - int is float64 in numpy < 2: keep it integer
    out[-1] = u.size - 1 - (nz[-1] if nz.size else -1)
    return out


def _unruns(stream: np.ndarray, n: int) -> np.ndarray:
    u = np.zeros(n, np.uint64)
    pos = 0
    for j in range(0, stream.size - 1, 2):
        pos += int(stream[j])
        u[pos] = stream[j + 1] + np.uint64(1)
        pos += 1
    return u


def compress(symbols, k: int = 0, ranked: bool = False, zero_runs: bool = False) -> bytes:
    """Exp-Golomb code a sequence of integers into a self-describing byte string."""
    s = np.asarray(symbols)
    if s.dtype.kind not in "iub":
        raise CodingError(f"symbols must be integers, got dtype {s.dtype}; quantize first (e.g. np.round(w * 2**s))")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 32:
        raise CodingError(f"exp-Golomb order k must be an integer in 0..32, got {k!r}")
    if s.size and (s.max() >= LIMIT or (s.dtype.kind == "i" and s.min() <= -LIMIT)):
        raise CodingError(f"symbols must lie strictly between -2^62 and 2^62; got {s.min()} .. {s.max()}")
    s = s.astype(np.int64).ravel()
    table = rank_table(s) if ranked else None
    if ranked:  # rank of each symbol: table[r] is the symbol of rank r
        by_value = np.argsort(table)
        u = by_value[np.searchsorted(table[by_value], s)].astype(np.uint64)
    else:
        u = zigzag(s)
    stream = _runs(u) if zero_runs else u
    nbits_max = int(eg_lengths(stream, k).sum()) if stream.size else 0
    buf = np.zeros((nbits_max + 7) // 8, np.uint8)
    nbits = _write(stream, k, buf) if stream.size else 0
    flags = (RANKED if ranked else 0) | (ZERO_RUNS if zero_runs else 0)
    head = _HEAD.pack(MAGIC, VERSION, k, flags, s.size, nbits)
    if ranked:
        head += struct.pack("<I", table.size) + table.astype("<i8").tobytes()
    body = head + buf.tobytes()
    return body + struct.pack("<I", zlib.crc32(body))


def decompress(data: bytes, max_symbols: int = MAX_SYMBOLS) -> np.ndarray:
    """The int64 symbols of a stream written by `compress`; CodingError names what is wrong. A stream that
    announces more than `max_symbols` symbols is refused before anything is allocated for them (a zero run
    costs few bits, so a small stream may legitimately stand for many symbols: raise the bound for those)."""
    data = bytes(data)
    if len(data) < _HEAD.size + 4:
        raise CodingError(f"stream too short ({len(data)} bytes) to be an rf8lab exp-Golomb stream")
    magic, version, k, flags, n, nbits = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise CodingError(f"not an rf8lab exp-Golomb stream (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise CodingError(f"stream version {version} is not supported (this rf8lab reads version {VERSION})")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise CodingError("stream is corrupt: CRC-32 mismatch")
    if k > 32 or flags & ~(RANKED | ZERO_RUNS):
        raise CodingError(f"stream is corrupt: order k = {k}, flags = {flags} (k is 0..32, flags 0..3)")
    if n > max_symbols:
        raise CodingError(f"stream announces {n} symbols, more than max_symbols = {max_symbols}; pass a larger "
                          "max_symbols if it is meant to")
    pos = _HEAD.size
    table = None
    if flags & RANKED:
        if pos + 4 > len(data) - 4:
            raise CodingError("stream is truncated: no room for the symbol table's length")
        (m,) = struct.unpack_from("<I", data, pos)
        if pos + 4 + 8 * m > len(data) - 4:
            raise CodingError(f"stream is truncated: a table of {m} symbols does not fit in {len(data)} bytes")
        table = np.frombuffer(data, "<i8", m, pos + 4).astype(np.int64)
        pos += 4 + 8 * m
    payload = np.frombuffer(data, np.uint8, len(data) - 4 - pos, pos)
    if nbits > 8 * payload.size:
        raise CodingError(f"stream is truncated: {nbits} payload bits announced, {8 * payload.size} present")
    most = nbits // (k + 1)  # every code takes at least k + 1 bits: no buffer beyond what the payload can hold
    if flags & ZERO_RUNS:
        out = np.empty(max(1, min(2 * n + 1, most)), np.uint64)
        got = _read(payload, nbits, out.size, k, out)
        if got <= 0:
            raise CodingError("stream is corrupt: no valid zero-run code")
        stream = out[:got]
        runs = stream[0::2]
        if got % 2 == 0 or int(runs.max()) > n or int(runs.sum()) + (got - 1) // 2 != n:
            raise CodingError("stream is corrupt: zero runs do not add up to the announced length")
        if got > 1 and int(stream[1::2].max()) >= 1 << 63:
            raise CodingError("stream is corrupt: a value beyond 2^63")
        u = _unruns(stream, n)
    else:
        if n > most:
            raise CodingError(f"stream is corrupt: {n} codes cannot fit in {nbits} bits")
        u = np.empty(n, np.uint64)
        got = _read(payload, nbits, n, k, u)
        if got != n:
            raise CodingError(f"stream is corrupt: {max(got, 0)} of {n} codes could be read")
    if table is not None:
        if u.size and int(u.max()) >= table.size:
            raise CodingError("stream is corrupt: a rank beyond the symbol table")
        return table[u.astype(np.int64)]
    if u.size and int(u.max()) >= 1 << 63:
        raise CodingError("stream is corrupt: a value beyond 2^63")
    return unzigzag(u)


def huffman_lengths(counts) -> np.ndarray:
    """Code length in bits of each symbol of an optimal (Huffman) prefix code for these counts
    (0 for symbols that never occur; 1 when only one symbol occurs)."""
    c = np.asarray(counts, np.int64)
    L = np.zeros(c.size, np.int64)
    live = [(int(v), i, [i]) for i, v in enumerate(c) if v > 0]
    if len(live) == 1:
        L[live[0][1]] = 1
    heapq.heapify(live)
    tie = c.size
    while len(live) > 1:
        a, b = heapq.heappop(live), heapq.heappop(live)
        for i in a[2] + b[2]:
            L[i] += 1
        tie += 1
        heapq.heappush(live, (a[0] + b[0], tie, a[2] + b[2]))
    return L


def entropy_bits(counts) -> float:
    """Empirical entropy in bits per symbol."""
    c = np.asarray(counts, np.float64)
    p = c[c > 0] / c.sum()
    return float(-(p * np.log2(p)).sum())


def bits_per_param(x, step: float | None = None, k: int = 0, fmt: str | None = None) -> dict:
    """Bits per parameter of one set of values under four codes.

    x: float weights with step (symbols = round(x / step)), integer symbols, an rf8lab `Encoded`
    (its codes), or uint8 codes with fmt. Returns fixed (the bits of a fixed-length code for the
    symbols' range; a format's code width for its codes: 8, or 6 and 4 for FP6 and FP4), exp_golomb
    (order k on frequency ranks, as BackSlash measures), exp_golomb_signed (order k, zig-zag), huffman
    and entropy, plus n and distinct."""
    from .codec.encoded import Encoded
    from .formats import get_format

    fixed = None
    if isinstance(x, Encoded):
        s, fixed = x.codes.astype(np.int64).ravel(), float(x.spec.format.bits)
    elif fmt is not None:
        s, fixed = np.asarray(x).astype(np.int64).ravel(), float(get_format(fmt).bits)
    else:
        a = np.asarray(x)
        if a.dtype.kind == "f":
            if step is None or not step > 0:
                raise CodingError("float weights need a quantization step > 0 (symbols = round(x / step))")
            s = np.round(a.astype(np.float64) / step).astype(np.int64).ravel()
        elif a.dtype.kind in "iub":
            s = a.astype(np.int64).ravel()
        else:
            raise CodingError(f"cannot code values of dtype {a.dtype}")
    if s.size == 0:
        raise CodingError("no values to code")
    table, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    order = np.lexsort((table, -counts))
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(order.size)
    ranks = rank_of[inv.ravel()]
    if fixed is None:
        span = int(s.max()) - int(s.min()) + 1
        fixed = float(max(1, int(np.ceil(np.log2(span)))))
    L = huffman_lengths(counts)
    n = s.size
    return {"n": n, "distinct": int(table.size), "fixed": fixed,
            "exp_golomb": float(eg_lengths(ranks.astype(np.uint64), k).sum() / n),
            "exp_golomb_signed": float(eg_lengths(zigzag(s), k).sum() / n),
            "huffman": float((L * counts).sum() / n), "entropy": entropy_bits(counts)}
