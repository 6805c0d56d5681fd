"""`rf8lab fit CHECKPOINT`: GG, Gaussian, Laplace and Student-t fitted to every tensor; a report."""
from __future__ import annotations

import sys


def add(sub) -> None:
    f = sub.add_parser("fit", help="fit GG, Gaussian, Laplace and Student-t to every tensor; write a report")
    f.add_argument("checkpoint", nargs="?", help="a .safetensors, .npz or torch (.pt/.bin) "
                   "file, a sharded checkpoint (its folder or its *.index.json), or 'minilm'")
    f.add_argument("--render", action="store_true", help="rewrite OUT/report.md from OUT/fits.json (no fitting)")
    f.add_argument("-o", "--out", default="fit_report", help="output folder (default: fit_report)")
    f.add_argument("--tensors", default=None, help="glob(s) of tensor names, comma-separated")
    f.add_argument("--max-compare", type=int, default=1_000_000, help="values per tensor in the model comparison")
    f.add_argument("--workers", type=int, default=2)
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=run)


def run(args) -> int:
    from ..io.files import CheckpointError
    from ..reports.fit import render, write_report

    if args.render:
        if args.checkpoint is not None:
            print("error: --render rewrites OUT/report.md from OUT/fits.json and takes no CHECKPOINT", file=sys.stderr)
            return 1
        try:
            print(f"rewrote {render(args.out)}")
        except (FileNotFoundError, KeyError, ValueError) as e:
            print(f"error: cannot render {args.out}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        return 0
    if args.checkpoint is None:
        print("error: rf8lab fit needs a CHECKPOINT (a file or 'minilm'), or --render", file=sys.stderr)
        return 1
    cmd = "rf8lab fit " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else None
    try:
        path = write_report(args.checkpoint, args.out, args.tensors, max_compare=args.max_compare,
                            workers=args.workers, seed=args.seed, command=cmd)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"report written to {path}")
    return 0
