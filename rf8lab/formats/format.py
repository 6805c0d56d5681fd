"""The element format: what each of a format's 256 codes means, nothing about rounding.

One `Format` object per format, in the spirit of gfloat's FormatInfo. Values are exact
(`fractions.Fraction`) at scale exponent X = 0; every table the codecs use is derived here.
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

    def __repr__(self) -> str:
        return f"Format({self.name!r}, {self.summary!r})"

    # ---- derived tables -------------------------------------------------------------
    @cached_property
    def decoded(self) -> tuple[Decoded, ...]:
        return tuple(self.decode_code(c) for c in range(256))

    @cached_property
    def magnitudes(self) -> tuple[Fraction, ...]:
        """Sorted finite magnitudes the encoder may produce, zero first; index = rank."""
        pos = {m for s, m in self.decoded if s > 0 and finite(m)}
        neg = {m for s, m in self.decoded if s < 0 and finite(m)}
        mags = sorted(m for m in pos if m == 0 or m in neg)  # symmetric range only
        return tuple(mags)

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
        """Canonical code of the magnitude with this rank and sign (zero: -0 if the format has it)."""
        mag = self.magnitudes[rank]
        key = (-1 if negative else 1, mag)
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
        return next(c for c, (s, m) in enumerate(self.decoded) if m == math.inf and (s < 0) == negative)

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
        """The 256 code values at X = 0 as floats (NaN for NaN codes, -0.0 where it exists)."""
        out = []
        for s, m in self.decoded:
            out.append(math.copysign(math.nan if m is None else float(m), s))
        return tuple(out)

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
