"""Command line: `rf8lab demo`, `rf8lab table FORMAT`."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _sqnr_db(x: np.ndarray, q: np.ndarray) -> float:
    err = np.sum((x - q) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(x ** 2) / err))


def demo(args) -> int:
    """Round generalized-Gaussian weights into every format and print the error of each."""
    from scipy import stats

    import rf8lab as rl

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
        print(f"{fmt:8} {rounding:9} {str(scale):8} {_sqnr_db(w, q):8.2f} {rel:12.4f} "
              f"{np.mean(q == 0):7.4f} {dt:6.2f}")
    print("RF8 unscaled (scale=None) is the paper's use: values kept as +-2^e1 +- 2^e2 in [0.75*2^-15, 1.5].")
    return 0


def table(args) -> int:
    import rf8lab as rl

    vals = rl.value_table(args.format)
    for c in range(256):
        print(f"0x{c:02X} {vals[c]!r}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rf8lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="quantize generalized-Gaussian weights into every format")
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
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
