"""`rf8lab demo`: the main job on its embedded default (all-MiniLM-L6-v2 and CPython's docs, no network)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..codec.api import BACKENDS


def add(sub) -> None:
    d = sub.add_parser("demo", help="the main job on MiniLM: format table, fitting report, format study (quick)")
    d.add_argument("-o", "--out", default="rf8lab_demo", help="folder for the reports (default: rf8lab_demo)")
    d.add_argument("--table-only", action="store_true", help="only the quick table of formats on GG weights")
    d.add_argument("--n", type=int, default=1 << 14, help="weights in the table (a multiple of 256)")
    d.add_argument("--shape", type=float, default=1.0, help="GG shape nu (2 = Gaussian, 1 = Laplace)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--backend", default="auto", choices=BACKENDS)
    d.set_defaults(func=run)


def run(args) -> int:
    """A quick table of every format on GG weights, the MiniLM fitting report, and the format study in
    quick mode; ends with where the reports are."""
    from ..io import checkpoints
    from ..reports import format_study
    from ..reports.fit import write_report

    t0 = time.perf_counter()
    if args.n < 256 or args.n % 256:
        print(f"error: --n must be a positive multiple of 256 (the table's channels are rows of 256); got {args.n}",
              file=sys.stderr)
        return 1
    quick_table(args)
    if args.table_only:
        return 0
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


TABLE = ("rf8:log:none", "rf8:log:tensor", "rf8:nearest:tensor", "rf8:nearest:block", "e4m3:nearest:none",
         "e4m3:nearest:tensor", "e5m2:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block")


def quick_table(args) -> None:
    """Round generalized-Gaussian weights into every format and print the error of each."""
    from scipy import stats

    import rf8lab as rl

    from ..metrics import errors

    rng = np.random.default_rng(args.seed)
    print(f"rf8lab {rl.__version__}: {args.n} weights ~ GG(shape {args.shape}), std 0.02, seed {args.seed}")
    w = stats.gennorm(args.shape).rvs(size=args.n, random_state=rng)
    w = (w * 0.02 / w.std()).astype(np.float32)
    print(f"{'format':8} {'rounding':9} {'scale':8} {'SQNR dB':>8} {'max rel err':>12} {'flushed':>7} {'s':>6}")
    for spec in map(rl.QuantSpec.parse, TABLE):
        x = w.reshape(-1, 256) if spec.scale == "channel" else w
        t = time.perf_counter()
        e = errors(x, spec, backend=args.backend)
        dt = time.perf_counter() - t
        print(f"{spec.fmt:8} {spec.rounding:9} {str(spec.scale):8} {e['sqnr_db']:8.2f} {e['max_rel_err']:12.4f} "
              f"{e['flushed']:7.4f} {dt:6.2f}")
    print("RF8 unscaled (scale=None) is the paper's use: values kept as +-2^e1 +- 2^e2 in [0.75*2^-15, 1.5].")
