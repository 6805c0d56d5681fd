"""Command line: `rf8lab demo`, `rf8lab fit`, `rf8lab table FORMAT`, `rf8lab train gpt|vit`, `rf8lab pipeline`."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def demo(args) -> int:
    """The main job on its embedded default (all-MiniLM-L6-v2 and CPython's docs, no network): a
    quick table of every format on GG weights, the MiniLM fitting report, and the format study in
    quick mode; ends with where the reports are."""
    from pathlib import Path

    t0 = time.perf_counter()
    quick_table(args)
    if args.table_only:
        return 0
    from . import checkpoints, format_study
    from .fit_report import write_report

    out = Path(args.out)
    try:
        checkpoints.minilm_path()
    except checkpoints.CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"\n[1/2] fitting GG, Gaussian, Laplace and Student-t to every tensor of all-MiniLM-L6-v2 "
          f"-> {out / 'minilm_fit'}")
    fit = write_report("minilm", out / "minilm_fit", max_compare=200_000, workers=2, seed=args.seed,
                       command="rf8lab demo")
    print(f"\n[2/2] format study, quick mode -> {out}")
    fmt = format_study.run(out, quick=True, command="rf8lab demo")
    print(f"\ndone in {(time.perf_counter() - t0) / 60:.1f} min. Reports:\n  {fit}\n  {fmt}\n"
          "  (full versions: reports/minilm_fit/report.md, python analysis/format_study.py)")
    return 0


def quick_table(args) -> None:
    """Round generalized-Gaussian weights into every format and print the error of each."""
    from scipy import stats

    import rf8lab as rl

    from .format_report import sqnr_db

    rng = np.random.default_rng(args.seed)
    print(f"rf8lab {rl.__version__}: {args.n} weights ~ GG(shape {args.shape}), std 0.02, seed {args.seed}")
    w = stats.gennorm(args.shape).rvs(size=args.n, random_state=rng)
    w = (w * 0.02 / w.std()).astype(np.float32)
    rows = [("rf8", "log", None), ("rf8", "log", "tensor"), ("rf8", "nearest", "tensor"),
            ("rf8", "nearest", "block"), ("e4m3", "nearest", None), ("e4m3", "nearest", "tensor"),
            ("e5m2", "nearest", "tensor"), ("int8", "nearest", "channel"), ("mxfp8", "nearest", "block")]
    print(f"{'format':8} {'rounding':9} {'scale':8} {'SQNR dB':>8} {'max rel err':>12} {'zeros':>7} {'s':>6}")
    for fmt, rounding, scale in rows:
        x = w.reshape(-1, 256) if scale == "channel" else w
        t = time.perf_counter()
        q = rl.quantize(x, fmt, rounding=rounding, scale=scale, backend=args.backend).ravel()
        dt = time.perf_counter() - t
        nz = w != 0
        rel = np.max(np.abs(q[nz] - w[nz]) / np.abs(w[nz]))
        print(f"{fmt:8} {rounding:9} {str(scale):8} {sqnr_db(w, q):8.2f} {rel:12.4f} "
              f"{np.mean(q == 0):7.4f} {dt:6.2f}")
    print("RF8 unscaled (scale=None) is the paper's use: values kept as +-2^e1 +- 2^e2 in [0.75*2^-15, 1.5].")


def table(args) -> int:
    import rf8lab as rl

    vals = rl.value_table(args.format)
    for c in range(256):
        print(f"0x{c:02X} {vals[c]!r}")
    return 0


def train(args) -> int:
    from . import nn
    from .nn.train import TrainConfig, TrainingError, load_data
    from .nn.train import train as run

    data = load_data(args.kind, args.text)
    if args.kind == "gpt":
        cfg = nn.Config("gpt", n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model,
                        block_size=args.block_size, vocab_size=data.vocab_size)
    else:
        cfg = nn.Config("vit", n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model,
                        n_classes=data.n_classes, patch_size=args.patch_size)
    init_kw = {"shape": args.shape, "xi": args.xi, "fan": args.fan} if args.init == "gg" else \
        {"xi": args.xi, "fan": args.fan} if args.init == "kaiming" else {}
    tc = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                     eval_every=args.eval_every, seed=args.seed, init=args.init, init_kw=init_kw, dtype=args.dtype,
                     shards=args.shards)
    print(f"{args.kind}: {nn.n_params(nn.init_params(cfg))} parameters, data {data.source} "
          f"(sha256 {data.sha256[:12]}), init {args.init} {init_kw}, seed {args.seed}")
    try:
        r = run(cfg, tc, data, out=args.out, resume=args.resume)
    except TrainingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    last = r.final
    extra = f", val acc {last['val_acc']:.4f}" if "val_acc" in last else ""
    print(f"step {last['step']}: train loss {last['train_loss']:.4f}, val loss {last['val_loss']:.4f}{extra}")
    print(f"wrote {args.out}/checkpoint.safetensors, {args.out}/model.safetensors, {args.out}/config.json")
    return 0


def pipeline(args) -> int:
    import json
    from pathlib import Path

    from .nn import pipeline

    lams = tuple(float(v) for v in args.lams.split(","))
    r = pipeline.run(args.kind, args.seed, lams=lams, steps=args.steps, text=args.text, progress=True)
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


def pack_cmd(args) -> int:
    from .checkpoints import CheckpointError
    from .pack import pack

    try:
        r = pack(args.checkpoint, args.out, fmt=args.fmt, rounding=args.rounding, scale=args.scale,
                 overflow=args.overflow, block=args.block, tensors=args.tensors)
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"packed {r['packed']} tensors to {args.fmt} ({args.scale} scales), copied {r['copied']}; "
          f"{r['bytes_in']} -> {r['bytes_out']} bytes ({r['bytes_in'] / max(1, r['bytes_out']):.2f}x smaller): "
          f"{args.out}")
    return 0


def unpack_cmd(args) -> int:
    from .checkpoints import CheckpointError
    from .pack import unpack

    try:
        out = unpack(args.packed, args.out, dtype=args.dtype)
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"unpacked {len(out)} tensors: {args.out}")
    return 0


def vectors_cmd(args) -> int:
    from .vectors import write

    info = write(args.out, seed=args.seed)
    for name, (n, h) in info.items():
        print(f"{name:28} {n:7d} lines  sha256 {h[:16]}")
    print(f"wrote {args.out}/ (see README.txt there for the field layout)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rf8lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="the main job on MiniLM: format table, fitting report, format study (quick)")
    d.add_argument("-o", "--out", default="rf8lab_demo", help="folder for the reports (default: rf8lab_demo)")
    d.add_argument("--table-only", action="store_true", help="only the quick table of formats on GG weights")
    d.add_argument("--n", type=int, default=1 << 14)
    d.add_argument("--shape", type=float, default=1.0, help="GG shape nu (2 = Gaussian, 1 = Laplace)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--backend", default="auto")
    d.set_defaults(func=demo)
    f = sub.add_parser("fit", help="fit GG, Gaussian, Laplace and Student-t to every tensor; write a report")
    f.add_argument("checkpoint", help="a .safetensors, .npz or torch (.pt/.bin) file, or 'minilm'")
    f.add_argument("-o", "--out", default="fit_report", help="output folder (default: fit_report)")
    f.add_argument("--tensors", default=None, help="glob(s) of tensor names, comma-separated")
    f.add_argument("--max-compare", type=int, default=1_000_000, help="values per tensor in the model comparison")
    f.add_argument("--workers", type=int, default=2)
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=lambda a: __import__("rf8lab.fit_report", fromlist=["main"]).main(a))
    t = sub.add_parser("table", help="print the 256 code values of a format at X = 0")
    t.add_argument("format", nargs="?", default="rf8")
    t.set_defaults(func=table)
    r = sub.add_parser("train", help="train a small GPT (CPython docs text) or ViT (sklearn digits) in NumPy")
    r.add_argument("kind", choices=["gpt", "vit"])
    r.add_argument("-o", "--out", default="run", help="folder for checkpoints (default: run)")
    r.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    r.add_argument("--text", default=None, help="GPT: a UTF-8 text file instead of CPython's docs")
    r.add_argument("--steps", type=int, default=1000)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--lr", type=float, default=3e-3)
    r.add_argument("--warmup", type=int, default=50)
    r.add_argument("--eval-every", type=int, default=100)
    r.add_argument("--n-layer", type=int, default=2)
    r.add_argument("--n-head", type=int, default=4)
    r.add_argument("--d-model", type=int, default=64)
    r.add_argument("--block-size", type=int, default=64, help="GPT context in characters")
    r.add_argument("--patch-size", type=int, default=2, help="ViT patch side in pixels")
    r.add_argument("--init", choices=["normal", "xavier", "kaiming", "gg"], default="normal")
    r.add_argument("--shape", type=float, default=2.0, help="GG init shape nu")
    r.add_argument("--xi", type=float, default=2.0, help="GG/Kaiming init: Var = xi / fan")
    r.add_argument("--fan", choices=["in", "out"], default="in")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    r.add_argument("--shards", type=int, default=1,
                   help="compute each batch as this many parts in parallel threads (2 uses 2 cores)")
    r.set_defaults(func=train)
    q = sub.add_parser("pipeline", help="train, BackSlash, DeepShape, convert to every 8-bit format, evaluate")
    q.add_argument("kind", choices=["gpt", "vit"])
    q.add_argument("-o", "--out", default="pipeline_run")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--steps", type=int, default=None, help="training steps per stage (default 800 GPT, 600 ViT)")
    q.add_argument("--lams", default="10,30,100,300", help="BackSlash lambdas, comma-separated")
    q.add_argument("--text", default=None, help="GPT: a UTF-8 text file instead of CPython's docs")
    q.set_defaults(func=pipeline)
    k = sub.add_parser("pack", help="store a checkpoint's weight matrices as 8-bit codes + scales (safetensors)")
    k.add_argument("checkpoint", help="a .safetensors, .npz or torch file, or 'minilm'")
    k.add_argument("-o", "--out", required=True, help="the packed .safetensors to write")
    k.add_argument("--fmt", default="rf8")
    k.add_argument("--rounding", default="nearest")
    k.add_argument("--scale", default="channel", help="tensor, channel or block (default channel)")
    k.add_argument("--overflow", default="saturate")
    k.add_argument("--block", type=int, default=None)
    k.add_argument("--tensors", default=None, help="glob(s) of tensors to pack, comma-separated (default: all 2-D+)")
    k.set_defaults(func=pack_cmd)
    u = sub.add_parser("unpack", help="floats back from a file written by rf8lab pack")
    u.add_argument("packed")
    u.add_argument("-o", "--out", required=True)
    u.add_argument("--dtype", default=None, help="output dtype (default: each tensor's original dtype)")
    u.set_defaults(func=unpack_cmd)
    c = sub.add_parser("compare", help="round every tensor of a checkpoint into several formats; per-tensor errors")
    c.add_argument("checkpoint", help="a .safetensors, .npz or torch file, or 'minilm'")
    c.add_argument("--formats", default=None,
                   help="comma-separated fmt[:rounding][:scale] specs (default: rf8 log unscaled, rf8 per tensor and "
                        "channel, e4m3, e5m2, int8 per tensor and channel, mxfp8)")
    c.add_argument("-o", "--out", default="compare_report")
    c.add_argument("--tensors", default=None, help="glob(s) of tensor names, comma-separated")
    c.set_defaults(func=lambda a: __import__("rf8lab.format_report", fromlist=["main"]).main(a))
    v = sub.add_parser("vectors", help="write RF8 test vectors ($readmemh hex) for hardware designs")
    v.add_argument("-o", "--out", default="rf8_vectors")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=vectors_cmd)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
