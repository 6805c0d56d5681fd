"""The codec's policies as named values, resolved once at the API boundary (rf8lab.codec.api.resolve): how
to round, what to do past max, and how a group's scale follows from its largest magnitude. They are
string enums, so "log" and Rounding.LOG are equal and JSON keeps the plain words."""
from __future__ import annotations

from enum import StrEnum


class Rounding(StrEnum):
    NEAREST = "nearest"        # ties to the even rank
    STOCHASTIC = "stochastic"  # up with probability (a - lo) / (hi - lo), to within 2^-32
    LOG = "log"                # RF8 only: the paper's log-domain rule


class Overflow(StrEnum):
    SATURATE = "saturate"  # to +-max
    NAN = "nan"
    INF = "inf"            # formats with an infinity (e5m2)


class ScaleRule(StrEnum):
    """How a group's largest magnitude sets its scale (rf8lab/codec/scale_rule.py)."""
    LOG = "log"        # RF8: the log-domain exponent of the maximum
    FIT = "fit"        # FP8: the smallest power of two that fits the maximum under max
    MX = "mx"          # OCP MX: floor(log2 max) - emax, an E8M0 exponent
    ABSMAX = "absmax"  # INT8: a float multiplier max / 127, no exponent
