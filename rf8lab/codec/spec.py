"""A quantizer setting as one value: `QuantSpec(fmt, rounding, scale, overflow, axis, block, sr_bits)`.

Checked against its format when it is made, so a QuantSpec that exists is one its format accepts (the axis
is checked against an array's shape when the spec is applied to it). Defaults are stored as None, so two
specs that act alike are equal and have one key ("rf8:block:block=32" is "rf8:nearest:block"). The API,
the CLI, the studies and the reports all use it; it has one text form (`key`, what `parse` reads and the
CLI takes) and one display form (`label`, what tables show):

    QuantSpec.parse("rf8:log:none")        key "rf8:log:none"          label "rf8 log, unscaled"
    QuantSpec.parse("e4m3")                key "e4m3:nearest:tensor"   label "e4m3 nearest, tensor"
    QuantSpec.parse("rf8:block:block=64")  key "rf8:nearest:block:block=64"

    QuantSpec.parse("e2m1:stochastic:sr_bits=8")

The text form is fmt, then any of: a rounding, a scale ("none" for unscaled), an overflow, "block=N",
"axis=N", "sr_bits=N" (the random bits of stochastic rounding), separated by ":". The overflow names
"saturate" and "inf" of rf8lab 0.1 are read as "sat-finite" and "ovf-inf".
"""
from __future__ import annotations

import dataclasses
import operator
import re
from dataclasses import dataclass

from ..formats import FORMATS, Format, get_format
from ..policies import Overflow, Rounding

SCALES = (None, "tensor", "channel", "block")


@dataclass(frozen=True)
class QuantSpec:
    fmt: str = "rf8"
    rounding: Rounding = Rounding.NEAREST
    scale: str | None = "auto"  # "auto" becomes the format's default
    overflow: Overflow = Overflow.SAT_FINITE
    axis: int | None = None     # channel: the channel axis (default 0); block: the blocked axis (default last)
    block: int | None = None    # block size (default: the format's, 32)
    sr_bits: int | None = None  # stochastic rounding: random bits (1..32); None: the exact-probability rule

    def __post_init__(self):
        if not isinstance(self.fmt, str):
            raise TypeError(f"fmt must be a format name; got {type(self.fmt).__name__}")
        if self.scale is not None and not isinstance(self.scale, str):
            raise TypeError(f"scale must be None, 'tensor', 'channel', 'block' or 'auto' (a granularity, not the "
                            f"scale values); got {type(self.scale).__name__}")
        f = get_format(self.fmt)
        scale = f.default_scale if self.scale == "auto" else self.scale
        _check_choice("rounding", self.rounding, f.roundings, f)
        overflow = Overflow(self.overflow) if _is_overflow(self.overflow) else self.overflow
        _check_choice("overflow", overflow, f.overflows, f)
        _check_choice("scale", scale, f.scales, f)
        axis, block = _integer("axis", self.axis), _integer("block", self.block)
        if axis is not None and scale not in ("channel", "block"):
            raise ValueError(f"scale={scale!r} takes no axis; axis applies to scale='channel' or 'block'")
        if block is not None:
            if scale != "block":
                raise ValueError(f"scale={scale!r} takes no block size; block applies to scale='block'")
            if not 1 <= block <= 1 << 40:
                raise ValueError(f"block must be a positive integer up to 2^40; got {self.block!r}")
            if f.block_format is not None and block != f.block_format.block:
                raise ValueError(f"{f.name} has blocks of {f.block_format.block} elements; got block={block}")
        rounding, sr_bits = Rounding(self.rounding), _integer("sr_bits", self.sr_bits)
        if sr_bits is not None and not rounding.stochastic:
            raise ValueError(f"rounding={str(rounding)!r} takes no sr_bits; sr_bits applies to the stochastic "
                             "roundings")
        if sr_bits is not None and not 1 <= sr_bits <= 32:
            raise ValueError(f"sr_bits must be an integer from 1 to 32; got {self.sr_bits!r}")
        if sr_bits is None and rounding.stochastic and rounding != Rounding.STOCHASTIC:
            raise ValueError(f"rounding={str(rounding)!r} needs sr_bits, the number of random bits (1..32)")
        if axis == {"channel": 0, "block": -1}.get(scale):
            axis = None  # the default axis
        if block == f.default_block:
            block = None
        for name, value in (("fmt", f.name), ("rounding", rounding), ("scale", scale),
                            ("overflow", overflow), ("axis", axis), ("block", block),
                            ("sr_bits", sr_bits)):
            object.__setattr__(self, name, value)

    @property
    def format(self) -> Format:
        return get_format(self.fmt)

    @classmethod
    def parse(cls, text: str) -> QuantSpec:
        """The spec a text form names (see the module docstring), or ValueError saying what is accepted."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a format spec is a non-empty string like 'rf8:log:none'; got {text!r}")
        fmt, *parts = text.strip().split(":")
        kw: dict = {}
        for p in parts:
            name, _, value = p.partition("=")
            if p in Rounding._value2member_map_:
                field, v = "rounding", p
            elif p in ("none", "tensor", "channel", "block"):
                field, v = "scale", None if p == "none" else p
            elif _is_overflow(p):
                field, v = "overflow", p
            elif name in ("block", "axis", "sr_bits") and re.fullmatch(r"-?[0-9]+", value):
                field, v = name, int(value)
            else:
                raise ValueError(f"format spec {text!r}: {p!r} is not a rounding ({', '.join(Rounding)}), a scale "
                                 f"(none, tensor, channel, block), an overflow ({', '.join(Overflow)}), "
                                 "block=N, axis=N or sr_bits=N")
            if field in kw:
                raise ValueError(f"format spec {text!r} gives the {field} twice")
            kw[field] = v
        return cls(fmt, **kw)

    @property
    def key(self) -> str:
        """The canonical text form: parse(spec.key) == spec."""
        parts = [self.fmt, str(self.rounding), "none" if self.scale is None else self.scale]
        if self.overflow != Overflow.SAT_FINITE:
            parts.append(str(self.overflow))
        parts += [f"{k}={v}" for k, v in (("axis", self.axis), ("block", self.block), ("sr_bits", self.sr_bits))
                  if v is not None]
        return ":".join(parts)

    @property
    def label(self) -> str:
        """The display form, e.g. "rf8 nearest, tensor" or "rf8 log, unscaled"."""
        extra = "".join(f", {k} {v}" for k, v in (("overflow", self.overflow if self.overflow != Overflow.SAT_FINITE
                                                               else None), ("axis", self.axis), ("block", self.block),
                                                  ("random bits", self.sr_bits))
                        if v is not None)
        return f"{self.fmt} {self.rounding}, {'unscaled' if self.scale is None else self.scale}{extra}"

    def replace(self, **changes) -> QuantSpec:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-ready fields (QuantSpec(**d) gives the spec back)."""
        return {"fmt": self.fmt, "rounding": str(self.rounding), "scale": self.scale,
                "overflow": str(self.overflow), "axis": self.axis, "block": self.block, "sr_bits": self.sr_bits}

    def for_shape(self, shape) -> QuantSpec:
        """The spec as it applies to an array of this shape: per-channel scales on a vector (a bias, a
        gain) are one scale for the whole vector, as a 1-D array has only one channel axis to share."""
        if self.scale == "channel" and len(shape) <= 1 and self.axis in (None, 0, -1):
            return self.replace(scale="tensor", axis=None)
        return self


def as_spec(fmt, rounding=None, scale="auto", overflow=None, axis=None, block=None, sr_bits=None) -> QuantSpec:
    """The QuantSpec that encode/quantize's arguments ask for: `fmt` is a QuantSpec, its text form or a
    registered Format; the other arguments, where given, replace its fields (a new scale starts from the
    default axis and block)."""
    if isinstance(fmt, QuantSpec):
        spec = fmt
    elif isinstance(fmt, Format):
        if FORMATS.get(fmt.name) is not fmt:
            raise ValueError(f"the Format {fmt.name!r} is not one of rf8lab's ({', '.join(FORMATS)}); the codec "
                             "runs registered formats only")
        spec = QuantSpec(fmt.name)
    elif isinstance(fmt, str):
        spec = QuantSpec.parse(fmt)
    else:
        raise TypeError(f"fmt must be a format name, a spec string like 'rf8:log:none' or a QuantSpec; "
                        f"got {type(fmt).__name__}")
    changes = {k: v for k, v in (("rounding", rounding), ("overflow", overflow), ("axis", axis), ("block", block),
                                 ("sr_bits", sr_bits)) if v is not None}
    if rounding is not None and sr_bits is None and spec.sr_bits is not None and \
            rounding in Rounding._value2member_map_ and not Rounding(rounding).stochastic:
        changes["sr_bits"] = None  # a deterministic rounding drops the spec's random bits
    if scale is not None and not isinstance(scale, str):
        raise TypeError(f"scale must be None, 'tensor', 'channel', 'block' or 'auto' (a granularity, not the "
                        f"scale values); got {type(scale).__name__}")
    if scale != "auto" and scale != spec.scale:
        spec = spec.replace(scale=scale, axis=None, block=None)
    return spec.replace(**changes) if changes else spec


def weight_spec(fmt="rf8", **quant) -> QuantSpec:
    """The spec for a weight matrix (out x in): as given, but per output channel where neither `fmt` nor
    `quant` names a scale and the format has channel scales (`rf8lab pack`, rf8lab.torch's layers)."""
    named = isinstance(fmt, QuantSpec) or (isinstance(fmt, str) and any(
        p in ("none", "tensor", "channel", "block") for p in fmt.strip().split(":")[1:]))
    if not named and quant.get("scale", "auto") == "auto" and "channel" in as_spec(fmt).format.scales:
        quant["scale"] = "channel"
    return as_spec(fmt, **quant)


def _is_overflow(text) -> bool:
    """Whether text names an overflow mode (rf8lab 0.1's "saturate" and "inf" included)."""
    try:
        Overflow(text)
    except ValueError:
        return False
    return True


def _integer(what: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer or None; got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer or None; got {value!r}") from None


def _check_choice(what: str, value, allowed, fmt: Format):
    if not (value is None or isinstance(value, str)) or value not in allowed:
        shown = repr(str(value)) if isinstance(value, str) else repr(value)  # a StrEnum as its plain text
        raise ValueError(f"{what}={shown} is not available for {fmt.name}; "
                         f"choose one of {', '.join(repr(a if a is None else str(a)) for a in allowed)}")
