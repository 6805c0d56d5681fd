"""Command line: `rf8lab demo | fit | compare | table | train | pipeline | pack | unpack | vectors`, one
module per command (each with add(subparsers) and run(args) -> exit status)."""
from __future__ import annotations

import argparse
import sys

from . import compare, demo, fit, pack, pipeline, table, train, unpack, vectors

COMMANDS = (demo, fit, compare, table, train, pipeline, pack, unpack, vectors)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rf8lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for command in COMMANDS:
        command.add(sub)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
