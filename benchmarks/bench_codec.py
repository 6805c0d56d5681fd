"""Codec throughput, rf8lab against the libraries users have, in one process.

    python benchmarks/bench_codec.py [--quick] [--n N] [--markdown FILE]

Prints a table, then one JSON object with the headline figures as its last line.
Throughput is Melem/s (median of repeats) on GG-distributed float32 weights (shape 1, std 0.02).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import statistics
import sys
import time

import ml_dtypes
import numpy as np
from scipy import stats

import rf8lab as rl


def bench(fn, n, repeat):
    fn()  # warm (JIT, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return n / statistics.median(ts) / 1e6


def authors_style_rf8(t):
    """The authors' style of RF8 in torch: elementwise log2 / round / pow (as in the code on
    huggingface.co/spaces/shifeng3711/gg_prior)."""
    import torch
    s = torch.sign(t)
    a = t.abs()
    e1 = torch.round(torch.log2(a))
    p1 = torch.pow(2.0, e1)
    r = a - p1
    e2 = torch.round(torch.log2(r.abs()))
    keep = (r != 0) & (e1 - e2 <= 4)
    return s * (p1 + torch.where(keep, torch.sign(r) * torch.pow(2.0, e2), torch.zeros_like(a)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2M elements, 3 repeats (< 30 s)")
    p.add_argument("--n", type=int, default=None, help="elements (default 16M, 2M with --quick)")
    p.add_argument("--markdown", default=None, help="also write the table as markdown to this file")
    a = p.parse_args(argv)
    n = a.n or (1 << 21 if a.quick else 1 << 24)
    repeat = 3 if a.quick else 7
    rng = np.random.default_rng(0)
    w = stats.gennorm(1.0).rvs(size=n, random_state=rng)
    w = (w * 0.02 / w.std()).astype(np.float32)
    rows = []

    def add(name, fn, m=n):
        rows.append((name, bench(fn, m, repeat)))

    add("numpy float32 copy (memory-bound reference)", lambda: w.copy())
    for r in ("nearest", "log", "stochastic"):
        bits = rng.integers(0, 2 ** 32, n, dtype=np.uint32) if r == "stochastic" else None
        add(f"rf8lab RF8 encode ({r})", lambda r=r, bits=bits: rl.encode(w, "rf8", rounding=r, random_bits=bits))
        add(f"rf8lab RF8 quantize ({r})", lambda r=r, bits=bits: rl.quantize(w, "rf8", rounding=r, random_bits=bits))
    add("rf8lab RF8 quantize (log, scale=None: the authors' semantics)",
        lambda: rl.quantize(w, "rf8", rounding="log", scale=None))
    enc = rl.encode(w, "rf8")
    add("rf8lab RF8 decode -> float32", lambda: rl.decode(enc))
    add("rf8lab E4M3 encode (scale=None)", lambda: rl.encode(w, "e4m3", scale=None))
    e4 = rl.encode(w, "e4m3", scale=None)
    add("rf8lab E4M3 decode -> float32", lambda: rl.decode(e4))
    add("ml_dtypes astype(float8_e4m3fn)", lambda: w.astype(ml_dtypes.float8_e4m3fn))
    f8 = w.astype(ml_dtypes.float8_e4m3fn)
    add("ml_dtypes float8_e4m3fn -> float32", lambda: f8.astype(np.float32))
    wb = w.astype(ml_dtypes.bfloat16)
    add("rf8lab RF8 encode, bfloat16 input", lambda: rl.encode(wb, "rf8"))
    w64 = w.astype(np.float64)
    add("rf8lab RF8 encode, float64 input", lambda: rl.encode(w64, "rf8"))
    versions = {"numpy": np.__version__, "ml_dtypes": ml_dtypes.__version__, "rf8lab": rl.__version__}
    try:
        import torch
        versions["torch"] = torch.__version__
        t = torch.from_numpy(w)
        add("torch .to(float8_e4m3fn)", lambda: t.to(torch.float8_e4m3fn))
        t8 = t.to(torch.float8_e4m3fn)
        add("torch float8_e4m3fn -> float32", lambda: t8.to(torch.float32))
        add("authors' style RF8 in torch (log2/round/pow)", lambda: authors_style_rf8(t))
        versions["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import gfloat
        from gfloat.formats import format_info_ocp_e4m3
        versions["gfloat"] = importlib.metadata.version("gfloat")  # gfloat has no __version__
        m = min(n, 1 << 20 if not a.quick else 1 << 18)
        w_small = w[:m].astype(np.float64)
        add("gfloat round_ndarray E4M3", lambda: gfloat.round_ndarray(format_info_ocp_e4m3, w_small), m)
    except ImportError:
        pass
    import numba
    versions["numba"] = numba.__version__
    versions["numba_threads"] = numba.get_num_threads()
    d = dict(rows)
    width = max(len(k) for k in d)
    print(f"{n} GG weights (shape 1), float32 unless stated; Melem/s, median of {repeat}")
    for k, v in rows:
        print(f"  {k:{width}}  {v:10.1f}")
    ml = d["ml_dtypes astype(float8_e4m3fn)"]
    head = {
        "n": n,
        "rf8_encode_melem_s": round(d["rf8lab RF8 encode (nearest)"], 1),
        "rf8_decode_melem_s": round(d["rf8lab RF8 decode -> float32"], 1),
        "rf8_quantize_melem_s": round(d["rf8lab RF8 quantize (nearest)"], 1),
        "copy_melem_s": round(d["numpy float32 copy (memory-bound reference)"], 1),
        "encode_vs_ml_dtypes_e4m3": round(d["rf8lab RF8 encode (nearest)"] / ml, 2),
        "e4m3_encode_vs_ml_dtypes_e4m3": round(d["rf8lab E4M3 encode (scale=None)"] / ml, 2),
        "quantize_vs_copy": round(d["rf8lab RF8 quantize (nearest)"]
                                  / d["numpy float32 copy (memory-bound reference)"], 2),
    }
    if "torch float8_e4m3fn -> float32" in d:
        head["decode_vs_torch_e4m3_decode"] = round(
            d["rf8lab RF8 decode -> float32"] / d["torch float8_e4m3fn -> float32"], 2)
        authors = d["authors' style RF8 in torch (log2/round/pow)"]
        head["encode_vs_authors_style"] = round(d["rf8lab RF8 encode (nearest)"] / authors, 2)
        head["same_semantics_vs_authors_style"] = round(
            d["rf8lab RF8 quantize (log, scale=None: the authors' semantics)"] / authors, 2)
    head["versions"] = versions
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("# Codec throughput\n\n")
            f.write(f"Command: `python benchmarks/bench_codec.py{' --quick' if a.quick else ''} "
                    f"--markdown {a.markdown}`\n\n")
            f.write(f"Machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
                    f"Python {platform.python_version()}; {json.dumps(versions)}\n\n")
            f.write(f"{n} generalized-Gaussian (shape 1) float32 weights unless stated; Melem/s, median of {repeat} "
                    "runs, all in one process. Timings on this shared 2-core machine are noisy: read the ratios.\n\n")
            f.write("| what | Melem/s |\n|---|---|\n")
            for k, v in rows:
                f.write(f"| {k} | {v:.1f} |\n")
            f.write("\nHeadline:\n\n```json\n" + json.dumps(head, indent=1) + "\n```\n")
    print(json.dumps(head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
