"""The codec's policies as named values, resolved once at the API boundary (rf8lab.codec.api.resolve): how
to round, what to do past max, and how a group's scale follows from its largest magnitude. They are
string enums, so "log" and Rounding.LOG are equal and JSON keeps the plain words.

The rounding and overflow names follow IEEE P3109's interim report (v4.0): NearestTiesToEven ("nearest"),
NearestTiesToAway, TowardZero, TowardPositive, TowardNegative, ToOdd, stochastic rounding with a stated
number of random bits; SatFinite, SatPropagate, OvfInf. Every rule rounds onto the format's value set
(its sorted magnitudes, rf8lab.formats.Format.magnitudes), so it means the same on RF8's set as on a
minifloat's (docs/rf8-format.md). The stochastic variants are gfloat's (gfloat.RoundMode)."""
from __future__ import annotations

from enum import StrEnum


class Rounding(StrEnum):
    NEAREST = "nearest"                  # nearest, ties to the even rank (P3109 NearestTiesToEven)
    NEAREST_AWAY = "nearest-away"        # nearest, ties away from zero
    TOWARD_ZERO = "toward-zero"
    TOWARD_POSITIVE = "toward-positive"
    TOWARD_NEGATIVE = "toward-negative"
    TO_ODD = "to-odd"                    # exact values stay; the rest go to the neighbour of odd rank
    # Stochastic: up in magnitude from the neighbour below with a probability set by the fraction f of
    # the way to the neighbour above. Without sr_bits: iff bits / 2^32 < f (P(up) = f to within 2^-32).
    # With sr_bits = N: P3109's rule, N random bits added below the kept precision, then truncated:
    # iff f 2^N + R >= 2^N (gfloat StochasticFastest).
    STOCHASTIC = "stochastic"
    STOCHASTIC_FAST = "stochastic-fast"  # iff f 2^N + R + 1/2 >= 2^N (gfloat StochasticFast)
    STOCHASTIC_EVEN = "stochastic-even"  # f 2^N rounded to an integer, ties to even, first (gfloat Stochastic)
    STOCHASTIC_ODD = "stochastic-odd"    # the same, ties to odd (gfloat StochasticOdd)
    LOG = "log"                          # RF8 only: the paper's log-domain rule

    @property
    def stochastic(self) -> bool:
        return self in STOCHASTIC_ROUNDINGS


STOCHASTIC_ROUNDINGS = (Rounding.STOCHASTIC, Rounding.STOCHASTIC_FAST, Rounding.STOCHASTIC_EVEN,
                        Rounding.STOCHASTIC_ODD)
# Every rounding onto a format's value set (all but RF8's log rule)
GRID_ROUNDINGS = (Rounding.NEAREST, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.TOWARD_POSITIVE,
                  Rounding.TOWARD_NEGATIVE, Rounding.TO_ODD) + STOCHASTIC_ROUNDINGS


class Overflow(StrEnum):
    """What a value beyond max becomes. As in IEEE 754 and P3109, a finite value that a directed rounding
    rounds toward the range (toward-zero; toward-negative above +max; toward-positive below -max) becomes
    +-max under every mode; infinities follow the mode."""
    SAT_FINITE = "sat-finite"        # +-max, infinities included (rf8lab's "saturate")
    SAT_PROPAGATE = "sat-propagate"  # finite values to +-max, infinities stay infinite (formats with inf)
    OVF_INF = "ovf-inf"              # +-inf (formats with inf; rf8lab's "inf")
    NAN = "nan"                      # NaN: what ml_dtypes' casts give on formats without inf (not a P3109 mode)

    @classmethod
    def _missing_(cls, value):
        return _OVERFLOW_ALIASES.get(value) if isinstance(value, str) else None

    # the names rf8lab used before P3109's
    SATURATE = "sat-finite"
    INF = "ovf-inf"


_OVERFLOW_ALIASES = {"saturate": Overflow.SAT_FINITE, "inf": Overflow.OVF_INF}


class ScaleRule(StrEnum):
    """How a group's largest magnitude sets its scale (rf8lab/codec/scale_rule.py)."""
    LOG = "log"        # RF8: the log-domain exponent of the maximum
    FIT = "fit"        # FP8: the smallest power of two that fits the maximum under max
    MX = "mx"          # OCP MX: floor(log2 max) - emax, an E8M0 exponent
    ABSMAX = "absmax"  # integers: a float multiplier amax / qmax, no exponent
    NV = "nv"          # NVFP4: a float32 tensor scale times an E4M3 block scale
