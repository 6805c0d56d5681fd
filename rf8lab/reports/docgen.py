"""Generate the tables of docs/rf8-format.md from the format description.

`python -m rf8lab.reports.docgen` rewrites the generated part of the document; a test checks that
the committed document equals what this module produces.
"""
from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

from ..formats import get_format
from ..formats.rf8 import rf8_fields, rf8_mantissa

BEGIN, END = "<!-- BEGIN GENERATED: python -m rf8lab.reports.docgen -->", "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "rf8-format.md"


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


def generated() -> str:
    return "\n\n".join([
        BEGIN,
        "### All 256 codes (X = 0)\n\n" + code_table(),
        "### Log rounding: decision thresholds within an octave\n\n" + log_thresholds(),
        "### Nearest rounding: decision thresholds\n\n" + nearest_thresholds(),
        END,
    ])


def render(text: str) -> str:
    """The document with its generated part replaced."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + generated() + tail


def main() -> int:
    DOC.write_text(render(DOC.read_text()))
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
