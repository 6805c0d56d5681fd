"""A bit-exact integer model of RF8 arithmetic for hardware designers: decode as wiring, RF8 x INT8
multiply-accumulate with shifts and adds only, and RF8 x RF8 products.

Decode as wiring (docs/rf8-format.md): byte S.EEEE.T.DD (X = 0)
    sign     = S
    shift1   = E + 4                      (the leading term 2^(E-15), in units of 2^-19)
    shift2   = E + 3 - D                  (the residual 2^(E-16-D), in units of 2^-19)
    residual = none if T = 1 and D = 0, subtract if T = 1, add if T = 0
    0x00 = zero, 0x80 = NaN (no product)
so |w| * 2^19 = (1 << shift1) +- (1 << shift2), and w * a = +-((a << shift1) +- (a << shift2)) units
of 2^(X-19): two shifts of the 8-bit activation and one add or subtract, then the sign.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..formats import get_format

UNIT_SHIFT = 19  # products are integers in units of 2^(X - 19)
NAN_CODE, ZERO_CODE = 0x80, 0x00


def fields(code: int) -> dict:
    """The byte's fields and the multiplier's control signals."""
    code = int(code)
    if not 0 <= code <= 255:
        raise ValueError(f"an RF8 code is a byte, 0..255; got {code}")
    S, E, T, D = code >> 7, (code >> 3) & 15, (code >> 2) & 1, code & 3
    return {"S": S, "E": E, "T": T, "D": D, "zero": code == ZERO_CODE, "nan": code == NAN_CODE,
            "shift1": E + 4, "shift2": E + 3 - D, "residual": 0 if (T == 1 and D == 0) else (-1 if T else 1)}


def product(code: int, a: int) -> int:
    """w * a for an RF8 code w (X = 0) and an int8 a, as an integer in units of 2^-19, computed
    with two shifts and one add/subtract, then a conditional negation. NaN codes raise."""
    f = fields(code)
    if f["nan"]:
        raise ValueError("0x80 is NaN: it has no product")
    if not -128 <= a <= 127:
        raise ValueError(f"the activation is an int8, -128..127; got {a}")
    if f["zero"]:
        return 0
    p = a << f["shift1"]
    if f["residual"] > 0:
        p = p + (a << f["shift2"])
    elif f["residual"] < 0:
        p = p - (a << f["shift2"])
    return -p if f["S"] else p


def mac(codes, acts, acc: int = 0, bits: int = 32) -> int:
    """acc + sum(w_i * a_i) in a `bits`-bit two's-complement accumulator (units of 2^-19), wrapping
    as the hardware would. One product is at most 1.5 * 2^19 * 128 = 100,663,296 < 2^27 in
    magnitude, so a 32-bit accumulator holds any 21 products and far more typical ones."""
    mask, top = (1 << bits) - 1, 1 << (bits - 1)
    for c, a in zip(codes, acts):
        acc = (acc + product(int(c), int(a))) & mask
    return acc - (1 << bits) if acc & top else acc


def products_table() -> np.ndarray:
    """(256, 256) int64 table: [code, a + 128] -> w * a in units of 2^-19 (0 for the NaN code)."""
    out = np.zeros((256, 256), np.int64)
    for c in range(256):
        if c == NAN_CODE:
            continue
        for a in range(-128, 128):
            out[c, a + 128] = product(c, a)
    return out


def terms(code: int) -> list[tuple[int, int]]:
    """The value of a code (X = 0) as signed powers of two: [(sign, exponent), ...]."""
    f = fields(code)
    if f["zero"] or f["nan"]:
        return []
    s = -1 if f["S"] else 1
    t = [(s, f["E"] - 15)]
    if f["residual"]:
        t.append((s * f["residual"], f["E"] - 16 - f["D"]))
    return t


def rf8_product(c1: int, c2: int) -> tuple[int, list[tuple[int, int]]]:
    """w1 * w2 for two RF8 codes (X = 0): at most four signed powers of two (exponent sums), and
    their sum as an integer in units of 2^-38 (the smallest possible exponent is -19 - 19)."""
    t = [(s1 * s2, e1 + e2) for s1, e1 in terms(c1) for s2, e2 in terms(c2)]
    return sum(s << (e + 38) for s, e in t), t


def check_exhaustive() -> int:
    """Every code x every int8 and every code x every code against exact rational products;
    returns the number of pairs checked (raises AssertionError on the first difference)."""
    vals = get_format("rf8").values  # exact Fractions (NaN for 0x80)
    n = 0
    for c in range(256):
        if c == NAN_CODE:
            continue
        v = Fraction(vals[c])
        for a in range(-128, 128):
            assert Fraction(product(c, a), 1 << UNIT_SHIFT) == v * a, (c, a)
            n += 1
        for c2 in range(256):
            if c2 == NAN_CODE:
                continue
            assert Fraction(rf8_product(c, c2)[0], 1 << 38) == v * Fraction(vals[c2]), (c, c2)
            n += 1
    return n
