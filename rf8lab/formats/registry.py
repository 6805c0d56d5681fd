"""Every format by name: the element formats, then the block formats (as the Format the codec runs)."""
from __future__ import annotations

from .block import MXFP8
from .format import Format
from .integer import INT8
from .minifloat import E4M3, E4M3FNUZ, E5M2, E5M2FNUZ
from .rf8 import RF8

FORMATS: dict[str, Format] = {f.name: f for f in (RF8, E4M3, E5M2, E4M3FNUZ, E5M2FNUZ, INT8, MXFP8.format)}


def get_format(fmt: str | Format) -> Format:
    if isinstance(fmt, Format):
        return fmt
    try:
        return FORMATS[str(fmt).lower()]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}") from None


def format_names() -> tuple[str, ...]:
    """Names of the formats rf8lab implements."""
    return tuple(FORMATS)
