"""Formats: what each code means. One module per family (rf8, minifloat, integer), block formats as an
element format plus a scale format (block), and the registry of names."""
from .block import BLOCK_FORMATS, E8M0, MXFP8, BlockFormat, ScaleFormat
from .format import Format, floor_log2, largest_float_below
from .minifloat import minifloat, p3109
from .registry import ALIASES, FORMATS, ML_DTYPES_TYPES, format_names, get_format

__all__ = ["ALIASES", "BLOCK_FORMATS", "E8M0", "FORMATS", "ML_DTYPES_TYPES", "MXFP8", "BlockFormat", "Format",
           "ScaleFormat", "floor_log2", "format_names", "get_format", "largest_float_below", "minifloat", "p3109"]
