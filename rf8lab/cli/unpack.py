"""`rf8lab unpack FILE -o OUT`: floats back from a file written by rf8lab pack."""
from __future__ import annotations

import sys


def add(sub) -> None:
    u = sub.add_parser("unpack", help="floats back from a file written by rf8lab pack")
    u.add_argument("packed")
    u.add_argument("-o", "--out", required=True)
    u.add_argument("--dtype", default=None, help="output dtype (default: each tensor's original dtype)")
    u.set_defaults(func=run)


def run(args) -> int:
    from ..io.files import CheckpointError
    from ..io.pack import unpack

    try:
        out = unpack(args.packed, args.out, dtype=args.dtype)
    except (CheckpointError, ValueError, TypeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"unpacked {len(out)} tensors: {args.out}")
    return 0
