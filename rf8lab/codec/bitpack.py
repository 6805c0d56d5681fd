"""Codes narrower than a byte, packed densely: code i of a flat array occupies bits [i w, (i + 1) w) of a
little-endian bit stream, so two FP4 codes share a byte (the first in the low nibble), four FP6 codes
fill three bytes, four 2-bit codes one byte. rf8lab keeps codes one per uint8 (Encoded.codes); this is
the storage layout of `rf8lab pack` and of hardware that reads MXFP4/MXFP6 blocks.

Works group by group (lcm(w, 8) bits each) with integer shifts, so memory stays at the size of the
input and output."""
from __future__ import annotations

import math

import numpy as np


def _group(bits: int) -> tuple[int, int]:
    """(codes, bytes) per group: lcm(bits, 8) bits."""
    if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 8:
        raise ValueError(f"bits must be an integer from 1 to 8; got {bits!r}")
    lcm = bits * 8 // math.gcd(bits, 8)
    return lcm // bits, lcm // 8


def packed_size(count: int, bits: int) -> int:
    """Bytes that `count` codes of `bits` bits take: ceil(count * bits / 8)."""
    _group(bits)
    return (count * bits + 7) // 8


def pack_codes(codes, bits: int) -> np.ndarray:
    """The flat uint8 codes (each < 2^bits) as ceil(n bits / 8) bytes."""
    per, nbytes = _group(bits)
    c = np.asarray(codes)
    if c.dtype != np.uint8:
        raise TypeError(f"codes must be a uint8 array; got {c.dtype}")
    c = c.reshape(-1)
    if c.size and int(c.max()) >= 1 << bits:
        raise ValueError(f"a code is {int(c.max())}, beyond {bits} bits (< {1 << bits})")
    if bits == 8:
        return c.copy()
    n = c.size
    groups = -(-n // per)
    padded = np.zeros(groups * per, np.uint64)
    padded[:n] = c
    word = np.zeros(groups, np.uint64)
    for k, lane in enumerate(padded.reshape(groups, per).T):  # per <= 8 lanes of <= 64 bits in all
        word |= lane << np.uint64(k * bits)
    out = np.empty((groups, nbytes), np.uint8)
    for b in range(nbytes):
        out[:, b] = (word >> np.uint64(8 * b)) & np.uint64(0xFF)
    return out.reshape(-1)[:packed_size(n, bits)]


def unpack_codes(data, bits: int, count: int) -> np.ndarray:
    """`count` uint8 codes of `bits` bits from the bytes pack_codes wrote."""
    per, nbytes = _group(bits)
    d = np.asarray(data)
    if d.dtype != np.uint8:
        raise TypeError(f"packed data must be a uint8 array; got {d.dtype}")
    d = d.reshape(-1)
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative integer; got {count!r}")
    if d.size != packed_size(int(count), bits):
        raise ValueError(f"{count} codes of {bits} bits take {packed_size(int(count), bits)} bytes; got {d.size}")
    if bits == 8:
        return d.copy()
    groups = -(-int(count) // per)
    padded = np.zeros(groups * nbytes, np.uint64)
    padded[:d.size] = d
    word = np.zeros(groups, np.uint64)
    for b, lane in enumerate(padded.reshape(groups, nbytes).T):
        word |= lane << np.uint64(8 * b)
    out = np.empty((groups, per), np.uint8)
    mask = np.uint64((1 << bits) - 1)
    for k in range(per):
        out[:, k] = (word >> np.uint64(k * bits)) & mask
    return out.reshape(-1)[:count]
