"""Block formats: an element format plus a scale format shared by each block of elements, as in
gfloat's BlockFormatInfo and the OCP Microscaling (MX) specification v1.0: MXFP8 is E4M3 (or E5M2)
elements with one E8M0 scale per 32 elements, MXFP6 and MXFP4 the same with FP6 and FP4 elements,
MXINT8 with 8-bit fixed-point elements (two's complement, 6 fraction bits). rf8lab adds MXRF8: RF8
elements under an E8M0 scale set by RF8's own (log) rule."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from ..policies import Overflow, ScaleRule
from .format import Decoded, Format
from .integer import INT8
from .minifloat import E2M1, E2M3, E3M2, E4M3, E5M2, OCP_MX
from .rf8 import RF8


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
    bias: int = 127       # code = X + bias
    codes: Format | None = None  # a scale that is not a power of two: its format (NVFP4: E4M3)

    def code(self, X: int) -> int:
        """The scale's code for exponent X (E8M0: X + 127, ml_dtypes float8_e8m0fnu's bits)."""
        return X + self.bias


E8M0 = ScaleFormat("e8m0", "OCP E8M0: 8 exponent bits, bias 127, 2^-127..2^127, 0xFF NaN",
                   rule=ScaleRule.MX, emin=-127, emax=127, nan_code=0xFF)


@dataclass(frozen=True)
class BlockFormat:
    name: str
    summary: str
    element: Format
    scale_format: ScaleFormat
    block: int
    rule: ScaleRule | None = None  # the scale rule, if not the scale format's (MXRF8: RF8's log rule)

    def __repr__(self) -> str:
        return (f"BlockFormat({self.name!r}: {self.element.name} elements, one {self.scale_format.name} scale "
                f"per {self.block})")

    @property
    def bits_per_value(self) -> float:
        """Storage per element, the shared scale included (MXFP8: 8 + 8/32 = 8.25; NVFP4 4 + 8/16 = 4.5,
        its one float32 per tensor left out)."""
        return self.element.bits + 8 / self.block

    @cached_property
    def format(self) -> Format:
        """The element format as the codec runs it: the element's codes and roundings, block scales only,
        the block format's rule, and saturating overflow only (OCP MX v1.0 clamps an element that its
        block's scale puts above the element's max: X = floor(log2 amax) - emax lets that happen, so an
        element overflow there is no sign of bad data and must not become NaN)."""
        return dataclasses.replace(self.element, name=self.name, summary=self.summary, scales=("block",),
                                   overflows=(Overflow.SAT_FINITE,), default_scale="block",
                                   default_block=self.block, scale_rule=self.rule or self.scale_format.rule,
                                   block_format=self, source=self.source)

    @property
    def source(self) -> str:
        if self.scale_format.rule == ScaleRule.NV:
            return "NVIDIA NVFP4 (Blackwell; TensorRT Model Optimizer's two-level scale)"
        return "rf8lab (RF8 elements, OCP MX E8M0 scales)" if self.rule else OCP_MX


def _fixed_point_decode(code: int) -> Decoded:
    """MXINT8's element: two's complement k / 64 (OCP MX v1.0, section 5.3)."""
    v = code - 256 if code >= 128 else code
    return (-1 if v < 0 else 1), Fraction(abs(v), 64)


# MXINT8's element as a value set (k / 64, symmetric: -128 is decoded, never produced), rounded like a float
INT8_FIXED = dataclasses.replace(INT8, name="int8-fixed", summary="8-bit fixed point: two's complement k/64",
                                 decode_code=_fixed_point_decode, next_up=Fraction(2), scale_rule=ScaleRule.FIT,
                                 source=OCP_MX)

MXFP8 = BlockFormat("mxfp8", "OCP MXFP8: E4M3 elements, one E8M0 scale per 32-element block",
                    element=E4M3, scale_format=E8M0, block=32)
MXFP8_E5M2 = BlockFormat("mxfp8-e5m2", "OCP MXFP8 (E5M2): E5M2 elements, one E8M0 scale per 32",
                         element=E5M2, scale_format=E8M0, block=32)
MXFP6 = BlockFormat("mxfp6", "OCP MXFP6: E2M3 elements, one E8M0 scale per 32", element=E2M3, scale_format=E8M0,
                    block=32)
MXFP6_E3M2 = BlockFormat("mxfp6-e3m2", "OCP MXFP6 (E3M2): E3M2 elements, one E8M0 scale per 32",
                         element=E3M2, scale_format=E8M0, block=32)
MXFP4 = BlockFormat("mxfp4", "OCP MXFP4: E2M1 elements, one E8M0 scale per 32", element=E2M1, scale_format=E8M0,
                    block=32)
MXINT8 = BlockFormat("mxint8", "OCP MXINT8: 8-bit fixed-point elements (k/64), one E8M0 scale per 32",
                     element=INT8_FIXED, scale_format=E8M0, block=32)
# NVFP4 (NVIDIA Blackwell; "NVFP4" in TensorRT Model Optimizer and Transformer Engine): E2M1 elements in
# blocks of 16, each block scaled by an E4M3 value, the whole tensor by one float32.
NV_E4M3 = ScaleFormat("e4m3", "E4M3 block scale (nearest of amax_block / (6 s)) times a float32 tensor scale "
                      "s = amax / (6 * 448)", rule=ScaleRule.NV, emin=0, emax=0, nan_code=None, bias=0, codes=E4M3)
NVFP4 = BlockFormat("nvfp4", "NVFP4: E2M1 elements, one E4M3 scale per 16, one float32 tensor scale",
                    element=E2M1, scale_format=NV_E4M3, block=16)
MXRF8 = BlockFormat("mxrf8", "RF8 elements, one E8M0 scale per 32, set by RF8's log rule (nothing saturates)",
                    element=RF8, scale_format=E8M0, block=32, rule=ScaleRule.LOG)

BLOCK_FORMATS = (MXFP8, MXFP8_E5M2, MXFP6, MXFP6_E3M2, MXFP4, MXINT8, NVFP4, MXRF8)
