"""Formats: what each code means. One module per family (rf8, minifloat, integer), block formats as an
element format plus a scale format (block), and the registry of names.

`rf8lab.formats()` lists every format (registry.table): the package is callable, so the list and the
package share one name without one hiding the other."""
import sys
import types

from .block import BLOCK_FORMATS, E8M0, MXFP8, BlockFormat, ScaleFormat
from .format import Format, floor_log2, largest_float_below
from .minifloat import p3109
from .registry import ALIASES, FORMATS, ML_DTYPES_TYPES, format_names, get_format, table

__all__ = ["ALIASES", "BLOCK_FORMATS", "E8M0", "FORMATS", "ML_DTYPES_TYPES", "MXFP8", "BlockFormat", "Format",
           "ScaleFormat", "floor_log2", "format_names", "get_format", "largest_float_below", "p3109", "table"]


class _CallablePackage(types.ModuleType):
    def __call__(self):
        """Every format rf8lab implements, one row each (registry.table)."""
        return table()


sys.modules[__name__].__class__ = _CallablePackage
