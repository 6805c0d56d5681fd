"""`rf8lab table FORMAT`: the 256 code values of a format at X = 0."""
from __future__ import annotations

import sys


def add(sub) -> None:
    t = sub.add_parser("table", help="print the 256 code values of a format at X = 0")
    t.add_argument("format", nargs="?", default="rf8")
    t.set_defaults(func=run)


def run(args) -> int:
    import rf8lab as rl

    try:
        vals = rl.value_table(args.format)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for c in range(256):
        print(f"0x{c:02X} {vals[c]!r}")
    return 0
