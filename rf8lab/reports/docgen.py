"""Generate the tables of docs/rf8-format.md and docs/formats.md from the format descriptions.

`python -m rf8lab.reports.docgen` rewrites the generated part of each document; a test checks that
the committed documents equal what this module produces.
"""
from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

from ..codec.reference import rank_on_grid
from ..formats import BLOCK_FORMATS, format_names, get_format
from ..formats.rf8 import rf8_fields, rf8_mantissa

BEGIN, END = "<!-- BEGIN GENERATED: python -m rf8lab.reports.docgen -->", "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "rf8-format.md"
FORMATS_DOC = DOC.with_name("formats.md")


def _pow2(v: Fraction) -> str:
    """v as m x 2^k with m in [0.75, 1.5]: how the format thinks of it."""
    if v == 0:
        return "0"
    k = math.floor(math.log2(v))
    m = v / Fraction(2) ** k
    if m >= Fraction(3, 2):
        m, k = m / 2, k + 1
    return f"{float(m):g}·2^{k}"


def code_table() -> str:
    f = get_format("rf8")
    rows = ["| code | S.E.T.D (S=0) | m(T,D) | value, S = 0 (X = 0) | code, S = 1 | value, S = 1 | note |",
            "|---|---|---|---|---|---|---|"]
    for c in range(128):
        _, e, t, d = rf8_fields(c)
        m = rf8_mantissa(t, d)
        pos, neg = f.decoded[c][1], f.decoded[c | 0x80][1]
        note = ""
        if c == 0:
            note = "+0 (0x00); 0x80 is NaN"
        elif t == 0 and d == 0 and 1 <= e <= 14:
            note = f"non-canonical: same value as 0x{(e + 1) << 3 | 5:02X} (encoders emit that)"
        elif c == 0x78:
            note = "largest magnitude, 1.5·2^X"
        elif c == 0x0D:
            note = "also the value 0x00 would have had"
        elif c == f.code_for(False, 1):
            note = "smallest magnitude, 0.75·2^(X-15)"
        val_pos = "0" if c == 0 else f"{float(pos):.10g} = {_pow2(pos)}"
        val_neg = "NaN" if c == 0 else f"-{float(neg):.10g}"
        rows.append(f"| 0x{c:02X} | 0.{e:04b}.{t}.{d:02b} | {float(m):g} | {val_pos} | 0x{c | 0x80:02X} | "
                    f"{val_neg} | {note} |")
    return "\n".join(rows)


def log_thresholds() -> str:
    """Where log rounding changes level inside one octave of the leading exponent e1."""
    rows = ["| result / 2^e1 | input / 2^e1 from (inclusive) | to (exclusive) |", "|---|---|---|"]
    # k = 1 on the minus side never occurs: 1 - 2^-3/2 < 2^-1/2, below the octave
    edges = ([2 ** -0.5] + [1 - 2 ** (-k - 0.5) for k in (2, 3, 4)] + [1 + 2 ** (-k - 0.5) for k in (4, 3, 2, 1)]
             + [2 ** 0.5])
    levels = [0.75, 0.875, 0.9375, 1, 1.0625, 1.125, 1.25, 1.5]
    exact = ["2^-1/2", "1 - 2^-5/2", "1 - 2^-7/2", "1 - 2^-9/2",
             "1 + 2^-9/2", "1 + 2^-7/2", "1 + 2^-5/2", "1 + 2^-3/2", "2^1/2"]
    for i, lv in enumerate(levels):
        rows.append(f"| {lv:g} | {edges[i]:.6f} ({exact[i]}) | {edges[i + 1]:.6f} ({exact[i + 1]}) |")
    return "\n".join(rows)


def nearest_thresholds() -> str:
    """Midpoints between consecutive magnitudes for one interior octave, plus the two ends."""
    f = get_format("rf8")
    mags = f.magnitudes
    k = 60  # an interior rank; the pattern repeats every 7 ranks (one octave)
    lo_oct = [i for i in range(1, len(mags)) if mags[i] >= Fraction(2) ** (math.floor(math.log2(mags[k])))][0]
    rows = ["| rank | magnitude (X = 0) | midpoint to the next rank (above it: round up) | "
            "an input exactly at the midpoint |", "|---|---|---|---|"]

    def row(i, nxt, label=None):
        mid = (mags[i] + nxt) / 2
        tie = "up" if i % 2 else "stays (even rank)"
        rows.append(f"| {i} | {label or _pow2(mags[i])} | {float(mid):.10g} = {_pow2(mid)} | {tie} |")

    row(0, mags[1], "0")
    rows.append("| ... | | | |")
    for i in range(lo_oct, lo_oct + 7):
        row(i, mags[i + 1])
    rows.append("| ... | | | |")
    row(len(mags) - 1, f.next_up, "1.5·2^0 (max)")
    return "\n".join(rows) + (
        f"\n\nThe last row's \"next rank\" is 1.75·2^X, the value past max if the exponent went on: "
        "inputs that round to it overflow (saturate to max, or NaN). Zero has rank 0, "
        f"the smallest magnitude rank 1, max rank {len(mags) - 1}.")


def directed_table() -> str:
    """Each rounding onto the value set, for an input strictly between two neighbours of one octave (the
    midpoint, and a quarter of the way), positive and negative."""
    f = get_format("rf8")
    mags = f.magnitudes
    lo_oct = next(i for i in range(1, len(mags)) if mags[i] >= Fraction(1, 2))
    modes = ("nearest", "nearest-away", "toward-zero", "toward-positive", "toward-negative", "to-odd")
    rows = ["| input (X = 0) | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for i in range(lo_oct, lo_oct + 7):
        lo, hi = mags[i], mags[i + 1]
        for a in (lo + (hi - lo) / 4, (lo + hi) / 2):
            for negative in (False, True):
                sign = "-" if negative else ""
                out = [f"{sign}{float(mags[rank_on_grid(a, f, m, negative)]):g}" for m in modes]
                where = "midpoint" if a == (lo + hi) / 2 else "quarter"
                rows.append(f"| {sign}{float(a):g} ({where} of {float(lo):g}, {float(hi):g}) | " + " | ".join(out)
                            + " |")
    return "\n".join(rows) + (
        "\n\nRanks count magnitudes from zero (rank 0) up; 1 has an even rank, so an exact tie at a midpoint goes to "
        "the neighbour of even rank under nearest, and to-odd picks the other one whenever the input is not "
        "a value of the set.")


def generated() -> str:
    return "\n\n".join([
        BEGIN,
        "### All 256 codes (X = 0)\n\n" + code_table(),
        "### Log rounding: decision thresholds within an octave\n\n" + log_thresholds(),
        "### Nearest rounding: decision thresholds\n\n" + nearest_thresholds(),
        "### Every rounding onto the value set, one octave\n\n" + directed_table(),
        END,
    ])


def formats_table() -> str:
    """One row per format: what rf8lab implements and which specification it follows."""
    rows = ["| name | bits | bits/value | signed | max | smallest positive | inf | NaN | overflow modes | "
            "default scale | source |", "|---" * 11 + "|"]
    for name in format_names():
        f = get_format(name)
        b = f.block_format
        bpv = f"{b.bits_per_value:g}" if b else str(f.bits)
        rows.append(f"| {name} | {f.bits} | {bpv} | {'yes' if f.signed else 'no'} | {float(f.max):.6g} | "
                    f"{float(f.min_positive):.6g} | {'yes' if f.has_inf else 'no'} | {'yes' if f.has_nan else 'no'} | "
                    f"{', '.join(f.overflows)} | {f.default_scale} | {f.source} |")
    blocks = ["| block format | elements | scale | block | scale rule |", "|---|---|---|---|---|"]
    for bf in BLOCK_FORMATS:
        blocks.append(f"| {bf.name} | {bf.element.name} | {bf.scale_format.name} ({bf.scale_format.summary}) | "
                      f"{bf.block} | {bf.rule or bf.scale_format.rule} |")
    return "\n\n".join([BEGIN, "### Every format\n\n" + "\n".join(rows),
                         "### Block formats: element format + scale format\n\n" + "\n".join(blocks), END])


def render(text: str, part=generated) -> str:
    """The document with its generated part replaced."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + part() + tail


def main() -> int:
    DOC.write_text(render(DOC.read_text()))
    FORMATS_DOC.write_text(render(FORMATS_DOC.read_text(), formats_table))
    print(f"wrote {DOC} and {FORMATS_DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
