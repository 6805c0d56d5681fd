"""`rf8lab compare CHECKPOINT --formats ...`: every tensor rounded into several formats; per-tensor errors."""
from __future__ import annotations

import sys
from pathlib import Path


def add(sub) -> None:
    c = sub.add_parser("compare", help="round every tensor of a checkpoint into several formats; per-tensor errors")
    c.add_argument("checkpoint", help="a .safetensors, .npz or torch file, a sharded checkpoint "
                   "(its folder or its *.index.json), or 'minilm'")
    c.add_argument("--formats", default=None,
                   help="comma-separated specs, fmt[:rounding][:scale][:overflow][:block=N][:axis=N] "
                        "(default: rf8 log unscaled, rf8 per tensor and "
                        "channel, e4m3, e5m2, int8 per tensor and channel, mxfp8)")
    c.add_argument("-o", "--out", default="compare_report")
    c.add_argument("--tensors", default=None, help="glob(s) of tensor names, comma-separated")
    c.add_argument("--end-to-end", action="store_true",
                   help="CHECKPOINT is a Hugging Face BERT folder (config.json, tokenizer.json, weights) or 'minilm': "
                        "also compare its sentence embeddings in each format with float32's (cosine, neighbours)")
    c.add_argument("--sentences", type=int, default=None,
                   help="sentences of CPython's docs, with --end-to-end (default 1000)")
    c.add_argument("--neighbours", type=int, default=None,
                   help="nearest neighbours compared, with --end-to-end (default 10)")
    c.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from ..codec.spec import QuantSpec
    from ..reports.compare import DEFAULT, write
    from ..reports.embeddings import NEIGHBOURS

    specs = [s for s in args.formats.split(",") if s] if args.formats else list(DEFAULT)
    if not args.end_to_end and (args.sentences is not None or args.neighbours is not None):
        print("error: --sentences and --neighbours go with --end-to-end", file=sys.stderr)
        return 1
    sentences = 1000 if args.sentences is None else args.sentences
    neighbours = NEIGHBOURS if args.neighbours is None else args.neighbours
    try:
        for s in specs:
            QuantSpec.parse(s)
        path = write(args.checkpoint, args.out, specs, args.tensors, sentences if args.end_to_end else None,
                     neighbours)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    df = pd.read_csv(Path(args.out) / "formats.csv")
    sq = [c for c in df.columns if c.endswith("SQNR dB")]
    with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 20):
        print(df[["tensor"] + sq].rename(columns=lambda c: c.replace(" SQNR dB", "")).round(2).to_string(index=False))
    if args.end_to_end:
        e2e = pd.read_csv(Path(args.out) / "end_to_end.csv")
        print(f"\nend to end, {sentences} sentences:")
        print(e2e.round(5).to_string(index=False))
    print(f"wrote {path} and {Path(args.out) / 'formats.csv'}")
    return 0
