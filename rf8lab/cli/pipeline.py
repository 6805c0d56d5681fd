"""`rf8lab pipeline gpt|vit`: train, BackSlash, DeepShape, convert to every 8-bit format, evaluate (one seed)."""
from __future__ import annotations

import argparse
import sys


def add(sub) -> None:
    q = sub.add_parser("pipeline", help="train, BackSlash, DeepShape, convert to every 8-bit format, evaluate")
    q.add_argument("kind", choices=["gpt", "vit"])
    q.add_argument("-o", "--out", default="pipeline_run")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=None, help="training steps per stage (default 800 GPT, 600 ViT)")
    q.add_argument("--lams", default="10,30,100,300", type=_lambdas, help="BackSlash lambdas, comma-separated")
    q.add_argument("--text", default=None, help="GPT: a UTF-8 text file instead of CPython's docs")
    q.set_defaults(func=run)


def _lambdas(text: str) -> tuple[float, ...]:
    try:
        lams = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 10,30,100; got {text!r}")
    if not lams or any(not v >= 0 for v in lams):
        raise argparse.ArgumentTypeError(f"lambdas must be >= 0; got {text!r}")
    return lams


def run(args) -> int:
    import json
    from pathlib import Path

    from ..methods import pipeline

    try:
        r = pipeline.run(args.kind, args.seed, lams=args.lams, steps=args.steps, text=args.text, progress=True)
    except (FileNotFoundError, UnicodeDecodeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = "val_acc" if args.kind == "vit" else "val_loss"
    fmts = [pipeline.FLOAT32] + [s.key for s in pipeline.SPECS]
    print(f"{args.kind} seed {args.seed}: {m} by stage and format (columns: {', '.join(fmts)}); "
          f"bits/weight at step {pipeline.STEP:g}")
    print(f"{'stage':48} {'EG bits':>7} {'zeros':>6} " + " ".join(f"{f[:11]:>11}" for f in fmts))
    for row in r["results"]:
        print(f"{row['stage'][:48]:48} {row['sizes']['exp_golomb']:7.2f} {row['sizes']['zero_fraction']:6.3f} "
              + " ".join(f"{row['formats'][f][m]:11.4f}" for f in fmts))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(r, indent=1))
    print(f"wrote {out / 'pipeline.json'}")
    return 0
