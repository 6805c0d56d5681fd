"""Block formats: an element format plus a scale format shared by each block of elements, as in
gfloat's BlockFormatInfo and the OCP Microscaling (MX) specification v1.0. MXFP8 is E4M3 elements with
one E8M0 scale per 32 elements."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

from ..policies import Overflow, ScaleRule
from .format import Format
from .minifloat import E4M3


@dataclass(frozen=True)
class ScaleFormat:
    """A shared scale's format: a power of two 2^X with X in [emin, emax], set from the block's maximum
    by `rule` (rf8lab/codec/scale_rule.py)."""
    name: str
    summary: str
    rule: ScaleRule
    emin: int
    emax: int
    nan_code: int | None  # the scale code that means NaN (E8M0: 0xFF); rf8lab never emits it


E8M0 = ScaleFormat("e8m0", "OCP E8M0: 8 exponent bits, bias 127, 2^-127..2^127, 0xFF NaN",
                   rule=ScaleRule.MX, emin=-127, emax=127, nan_code=0xFF)


@dataclass(frozen=True)
class BlockFormat:
    name: str
    summary: str
    element: Format
    scale_format: ScaleFormat
    block: int

    def __repr__(self) -> str:
        return (f"BlockFormat({self.name!r}: {self.element.name} elements, one {self.scale_format.name} scale "
                f"per {self.block})")

    @cached_property
    def format(self) -> Format:
        """The element format as the codec runs it: the element's codes and roundings, block scales only,
        the scale format's rule, and saturating overflow only (OCP MX v1.0 clamps an element that its
        block's scale puts above the element's max: X = floor(log2 amax) - emax lets that happen, so an
        element overflow there is no sign of bad data and must not become NaN)."""
        return dataclasses.replace(self.element, name=self.name, summary=self.summary, scales=("block",),
                                   overflows=(Overflow.SATURATE,),
                                   default_scale="block", default_block=self.block, scale_rule=self.scale_format.rule,
                                   block_format=self)


MXFP8 = BlockFormat("mxfp8", "OCP MXFP8: E4M3 elements, one E8M0 scale per 32-element block",
                    element=E4M3, scale_format=E8M0, block=32)
