"""`rf8lab table [FORMAT]`: every format rf8lab implements, or the code values of one at X = 0."""
from __future__ import annotations

import sys


def add(sub) -> None:
    t = sub.add_parser("table", help="list every format, or print the code values of one at X = 0")
    t.add_argument("format", nargs="?", default=None,
                   help="a format name (or an ml_dtypes type name); without it, every format is listed")
    t.set_defaults(func=run)


def run(args) -> int:
    import rf8lab as rl

    if args.format is None:
        table = rl.formats()
        cols = ["bits", "bits_per_value", "signed", "max", "inf", "nan", "default_scale", "source"]
        with __import__("pandas").option_context("display.width", 200, "display.max_colwidth", 70,
                                                  "display.max_rows", 500):
            print(table[cols].to_string())
        return 0
    try:
        f = rl.format_info(args.format)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    vals = rl.value_table(args.format)
    width = max(1, (f.bits + 3) // 4)
    print(f"# {f.name}: {f.summary} ({f.source})")
    for c in range(f.codes):
        print(f"0x{c:0{width}X} {float(vals[c])!r}")
    return 0
