"""Every format by name: the element formats, P3109's binary8 family, then the block formats (as the
Format the codec runs). ml_dtypes' type names are accepted as aliases ("float8_e4m3fn" is "e4m3")."""
from __future__ import annotations

from .block import BLOCK_FORMATS
from .format import Format
from .integer import INT2, INT4, INT8, UINT2, UINT4
from .minifloat import (
    E2M1,
    E2M3,
    E3M2,
    E3M4,
    E4M3,
    E4M3_IEEE,
    E4M3B11FNUZ,
    E4M3FNUZ,
    E5M2,
    E5M2FNUZ,
    E5M3FNU,
    P3109_FORMATS,
)
from .rf8 import RF8

ELEMENT_FORMATS = (RF8, E4M3, E5M2, E4M3FNUZ, E5M2FNUZ, E4M3B11FNUZ, E4M3_IEEE, E3M4, E5M3FNU, E3M2, E2M3, E2M1,
                   INT8, INT4, INT2, UINT4, UINT2)
FORMATS: dict[str, Format] = {f.name: f for f in ELEMENT_FORMATS + P3109_FORMATS}
FORMATS.update({b.name: b.format for b in BLOCK_FORMATS})

# rf8lab's format -> the ml_dtypes type with the same codes (float8_e8m0fnu is E8M0, a scale format)
ML_DTYPES_TYPES = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e4m3fnuz": "float8_e4m3fnuz",
                   "e5m2fnuz": "float8_e5m2fnuz", "e4m3b11fnuz": "float8_e4m3b11fnuz", "e4m3-ieee": "float8_e4m3",
                   "e3m4": "float8_e3m4", "e5m3fnu": "float8_e5m3fnu", "e3m2": "float6_e3m2fn",
                   "e2m3": "float6_e2m3fn", "e2m1": "float4_e2m1fn", "int4": "int4", "int2": "int2",
                   "uint4": "uint4", "uint2": "uint2"}
ALIASES = {v: k for k, v in ML_DTYPES_TYPES.items() if v != k} | {"e4m3fn": "e4m3"}


def get_format(fmt: str | Format) -> Format:
    if isinstance(fmt, Format):
        return fmt
    name = str(fmt).lower()
    try:
        return FORMATS[ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)} (and ml_dtypes' names: "
                         f"{', '.join(ALIASES)})") from None


def format_names() -> tuple[str, ...]:
    """Names of the formats rf8lab implements."""
    return tuple(FORMATS)


def table():
    """Every format rf8lab implements, one row each (a pandas DataFrame indexed by name): code width, storage
    per value with the shared scales, sign, range, inf and NaN, the roundings, overflow modes and scales it
    takes, and the specification it follows. ml_dtypes' type names are accepted as aliases everywhere."""
    import pandas as pd

    rows = []
    for name in format_names():
        f = get_format(name)
        b = f.block_format
        rows.append({"name": name, "bits": f.bits, "bits_per_value": b.bits_per_value if b else float(f.bits),
                     "signed": f.signed, "max": float(f.max), "min_positive": float(f.min_positive),
                     "inf": f.has_inf, "nan": f.has_nan, "block": b.block if b else None,
                     "scale_format": b.scale_format.name if b else None,
                     "roundings": ", ".join(f.roundings), "overflows": ", ".join(f.overflows),
                     "scales": ", ".join("none" if s is None else s for s in f.scales),
                     "default_scale": f.default_scale, "summary": f.summary, "source": f.source})
    return pd.DataFrame(rows).set_index("name")
