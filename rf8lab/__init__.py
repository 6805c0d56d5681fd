"""rf8lab: 8-bit and smaller number formats (RF8 and the FP8, P3109, MX, NVFP4 and integer formats it is
compared with) and the statistics of neural-network weights."""
from . import formats
from .codec.api import decode, encode, format_info, quantize, value_table
from .codec.encoded import Encoded
from .codec.spec import QuantSpec
from .codec.vectorized import random_bits
from .formats import format_names

__version__ = "0.1.0"
__all__ = ["Encoded", "QuantSpec", "decode", "encode", "format_info", "format_names", "formats", "quantize",
           "random_bits", "value_table"]
