"""The element format: what each of a format's codes means, nothing about rounding.

One `Format` object per format, in the spirit of gfloat's FormatInfo. Values are exact
(`fractions.Fraction`) at scale exponent X = 0; every table the codecs use is derived here. A format of
`bits` < 8 has 2^bits codes, stored one per uint8; the tables still have 256 entries, and codes at or
above 2^bits are invalid (NaN in `values`, refused by rf8lab.Encoded).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from ..policies import Overflow, Rounding, ScaleRule

if TYPE_CHECKING:
    from .block import BlockFormat

# A decoded code: (sign, magnitude). sign is +1 or -1; magnitude is a Fraction,
# math.inf, or None for NaN.
Decoded = tuple[int, "Fraction | float | None"]


@dataclass(frozen=True)
class Format:
    name: str
    summary: str
    decode_code: Callable[[int], Decoded]
    next_up: Fraction  # the magnitude after `max` if the exponent range went on (overflow rule)
    roundings: tuple[Rounding, ...]
    overflows: tuple[Overflow, ...]
    scales: tuple[str | None, ...]  # accepted granularities
    default_scale: str
    scale_rule: ScaleRule
    nan_codes: tuple[int, int] | None = (0x80, 0x80)  # emitted for NaN: (positive, negative) input
    default_block: int = 32
    block_format: BlockFormat | None = None  # set on the format a BlockFormat composes (mxfp8)
    bits: int = 8                            # code width: 2^bits codes
    signed: bool = True                      # unsigned formats hold x >= 0 only
    source: str = ""                         # the specification it follows, and its version

    def __repr__(self) -> str:
        return f"Format({self.name!r}, {self.summary!r})"

    # ---- derived tables -------------------------------------------------------------
    @cached_property
    def decoded(self) -> tuple[Decoded, ...]:
        return tuple(self.decode_code(c) for c in range(1 << self.bits))

    @property
    def codes(self) -> int:
        """How many codes the format has (2^bits)."""
        return 1 << self.bits

    @cached_property
    def magnitudes(self) -> tuple[Fraction, ...]:
        """Sorted finite magnitudes the encoder may produce, zero first; index = rank. Signed formats:
        those of both signs (two's complement's extra negative code is decoded, never produced)."""
        pos = {m for s, m in self.decoded if s > 0 and finite(m)}
        neg = {m for s, m in self.decoded if s < 0 and finite(m)}
        mags = sorted(m for m in pos if m == 0 or m in neg or not self.signed)
        return tuple(mags)

    @cached_property
    def threshold_bits(self) -> int:
        """Fraction bits, within its binade, of the finest rounding threshold (a magnitude, or the
        midpoint of two neighbours): what the kernels' table keys must resolve."""
        grid = self.extended
        most = 0
        for g in grid[1:] + tuple((a + b) / 2 for a, b in zip(grid, grid[1:])):
            frac = g / Fraction(2) ** floor_log2(g)
            most = max(most, frac.denominator.bit_length() - 1)
        return most

    @cached_property
    def rank(self) -> dict[Fraction, int]:
        """Magnitude -> rank."""
        return {m: i for i, m in enumerate(self.magnitudes)}

    @cached_property
    def _codes(self) -> dict[tuple[int, Fraction], int]:
        # Canonical code for (sign, magnitude): the largest code with that meaning. For RF8
        # this picks S.(E+1).1.01 over S.E.0.00 (see docs/rf8-format.md).
        table: dict[tuple[int, Fraction], int] = {}
        for c, (s, m) in enumerate(self.decoded):
            if finite(m):
                table[(s, m)] = max(c, table.get((s, m), -1))
        return table

    def code_for(self, negative: bool, rank: int) -> int:
        """Canonical code of the magnitude with this rank and sign (zero: -0 if the format has it;
        an unsigned format gives its positive codes)."""
        mag = self.magnitudes[rank]
        key = (-1 if negative and self.signed else 1, mag)
        return self._codes.get(key, self._codes[(1, mag)] if mag == 0 else -1)

    @cached_property
    def max(self) -> Fraction:
        return self.magnitudes[-1]

    @cached_property
    def min_positive(self) -> Fraction:
        return self.magnitudes[1]

    @cached_property
    def has_inf(self) -> bool:
        return any(m == math.inf for _, m in self.decoded)

    def nan_code(self, negative: bool = False) -> int:
        if self.nan_codes is None:
            raise ValueError(f"{self.name} has no NaN code")
        return self.nan_codes[1 if negative else 0]

    def inf_code(self, negative: bool) -> int:
        return next(c for c, (s, m) in enumerate(self.decoded)
                    if m == math.inf and ((s < 0) == negative or not self.signed))

    @cached_property
    def extended(self) -> tuple[Fraction, ...]:
        """The magnitudes, then next_up: the grid every rounding rule brackets on (past max: overflow)."""
        return self.magnitudes + (self.next_up,)

    @cached_property
    def rank_codes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The code of each rank for positive and for negative input."""
        n = len(self.magnitudes)
        return tuple(self.code_for(False, r) for r in range(n)), tuple(self.code_for(True, r) for r in range(n))

    @cached_property
    def special_codes(self) -> tuple[int, int, int, int]:
        """(NaN+, NaN-, inf+, inf-) as emitted by encode; 0 where the format has none."""
        nan_p, nan_n = self.nan_codes or (0, 0)
        return nan_p, nan_n, *((self.inf_code(False), self.inf_code(True)) if self.has_inf else (0, 0))

    @cached_property
    def values(self) -> tuple[float, ...]:
        """The 256 code values at X = 0 as floats (NaN for NaN codes and for codes >= 2^bits, -0.0
        where it exists)."""
        out = []
        for s, m in self.decoded:
            out.append(math.copysign(math.nan if m is None else float(m), s))
        return tuple(out) + (math.nan,) * (256 - len(out))

    @property
    def float_scale(self) -> bool:
        """Whether a group's scale is a float multiplier (integers' absmax / qmax, NVFP4) rather than 2^X."""
        return self.scale_rule in (ScaleRule.ABSMAX, ScaleRule.NV)

    @property
    def scale_codes(self) -> bool:
        """Whether a group's scale has a code (Encoded.scale_exp): 2^X's exponent, or NVFP4's E4M3 block
        scale; integers' absmax multiplier has none."""
        return self.scale_rule != ScaleRule.ABSMAX

    @cached_property
    def has_nan(self) -> bool:
        return self.nan_codes is not None

    @cached_property
    def emax(self) -> int:
        """floor(log2(max)): the element's largest exponent (used by the MX scale rule)."""
        return floor_log2(self.max)


def finite(m) -> bool:
    return m is not None and m != math.inf


def floor_log2(a: Fraction) -> int:
    """Exact floor(log2(a)) of a positive rational."""
    n = a.numerator.bit_length() - a.denominator.bit_length()
    # now 2^(n-1) < a < 2^(n+1); one comparison settles it
    return n if a >= Fraction(2) ** n else n - 1


def largest_float_below(approx: float, below) -> float:
    """The largest float64 f with below(Fraction(f)) true, starting near `approx`."""
    f = approx
    while not below(Fraction(f)):
        f = math.nextafter(f, -math.inf)
    while below(Fraction(math.nextafter(f, math.inf))):
        f = math.nextafter(f, math.inf)
    return f
