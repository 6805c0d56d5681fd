"""`rf8lab vectors -o DIR`: RF8 test vectors ($readmemh hex) for hardware designs."""
from __future__ import annotations

import sys


def add(sub) -> None:
    v = sub.add_parser("vectors", help="write RF8 test vectors ($readmemh hex) for hardware designs")
    v.add_argument("-o", "--out", default="rf8_vectors")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=run)


def run(args) -> int:
    from ..hw.vectors import write

    try:
        info = write(args.out, seed=args.seed)
    except OSError as e:
        print(f"error: cannot write the vectors to {args.out}: {e}", file=sys.stderr)
        return 1
    for name, (n, h) in info.items():
        print(f"{name:28} {n:7d} lines  sha256 {h[:16]}")
    print(f"wrote {args.out}/ (see README.txt there for the field layout)")
    return 0
