"""Codec throughput, rf8lab against the libraries users have, in one process.

    python benchmarks/bench_codec.py [--quick] [--n N] [--json FILE] [--markdown FILE] [--notes TEXT]
    python benchmarks/bench_codec.py --render FILE.json --markdown FILE.md

Prints a table, then one JSON object with the headline figures as its last line. Throughput is Melem/s
(median of repeats) on generalized-Gaussian float32 weights (shape 1, std 0.02), with the memory traffic
it implies in GB/s. The targets are ratios within one run (timings on a shared machine are noisy):
  - RF8 nearest and log per tensor >= 0.71 x the float32 copy's element rate (0.8 of the two-pass bound:
    an absmax pass reads 4 bytes, the encode reads 4 and writes 1, against the copy's 8);
    per channel and per block of 32 within 10 % of per tensor;
  - E4M3/E5M2 unscaled encode >= torch's .to(float8_e4m3fn) / .to(float8_e5m2), and bit-equal to it;
  - decode of every format >= 1.4 x the copy (the bound, 5 bytes against 8, is 1.6);
  - stochastic rounding >= 0.5 x nearest, for every format;
  - bfloat16 and float16 input >= float32 input, float64 >= 0.5 x float32;
  - the first rl.quantize in a new process <= 0.5 s once Numba's cache is warm.
The main figures are measured at 1 thread and at the machine's thread count. --json writes the whole
result; --markdown renders that JSON as a page (reports/bench_codec.md).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import ml_dtypes
import numba
import numpy as np
from scipy import stats

import rf8lab as rl

DECODE_FORMATS = ("rf8", "e4m3", "e5m2", "e3m2", "e2m1", "binary8p3se", "int8", "int4", "mxfp8", "mxfp4",
                  "nvfp4")
STOCHASTIC_FORMATS = ("rf8", "e4m3", "e5m2", "e2m1", "int8", "mxfp8")
COLD_START = ("import time, numpy as np; t0 = time.perf_counter(); import rf8lab as rl; t1 = time.perf_counter(); "
              "rl.quantize(np.linspace(-1, 1, 100000, dtype=np.float32), 'rf8'); t2 = time.perf_counter(); "
              "print(t1 - t0, t2 - t1)")
# Numba's own floor: the first call of a one-line cached kernel in a fresh process (its first load of any
# cached function initializes the compiler's registries, which imports scipy.linalg)
NUMBA_FIRST_CALL = ("import time, numpy as np; import rf8lab.codec.kernels as k; t0 = time.perf_counter(); "
                    "k.exp2_bits(np.zeros(1, np.int64), np.empty(1, np.uint64)); print(time.perf_counter() - t0)")


def bench(fn, repeat):
    fn()  # warm (JIT, table caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


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


def measure(w, repeat, threads, quick):
    """Rows (name, Melem/s, bytes moved per element) at this thread count."""
    numba.set_num_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    n = w.size
    w2 = w.reshape(-1, 4096)
    rows = []

    def add(name, fn, nbytes, m=n):
        rows.append((name, m / bench(fn, repeat) / 1e6, nbytes))

    add("numpy float32 copy", lambda: w.copy(), 8)
    buf = np.empty_like(w)  # into a buffer used again: no page faults of a fresh array
    add("numpy float32 copy into a buffer", lambda: np.copyto(buf, w), 8)
    for r in ("nearest", "log"):
        add(f"RF8 encode {r}, per tensor", lambda r=r: rl.encode(w, "rf8", rounding=r), 9)
        add(f"RF8 encode {r}, per channel", lambda r=r: rl.encode(w2, "rf8", rounding=r, scale="channel"), 9)
        add(f"RF8 encode {r}, per block 32", lambda r=r: rl.encode(w2, "rf8", rounding=r, scale="block", block=32), 9)
    add("RF8 quantize nearest, per tensor", lambda: rl.quantize(w, "rf8"), 12)
    for f in STOCHASTIC_FORMATS:
        scale = "block" if f == "mxfp8" else ("tensor" if f != "int8" else "channel")
        x = w2 if scale != "tensor" else w
        add(f"{f} encode nearest ({scale})", lambda f=f, x=x, s=scale: rl.encode(x, f, scale=s), 9)
        add(f"{f} encode stochastic ({scale})",
            lambda f=f, x=x, s=scale: rl.encode(x, f, rounding="stochastic", scale=s, rng=0), 9)
    add("E4M3 encode, unscaled", lambda: rl.encode(w, "e4m3", scale=None, overflow="nan"), 5)
    add("E5M2 encode, unscaled", lambda: rl.encode(w, "e5m2", scale=None, overflow="ovf-inf"), 5)
    for f in DECODE_FORMATS:
        enc = rl.encode(w, f)
        add(f"{f} decode -> float32", lambda enc=enc: rl.decode(enc), 5)
        if f == "rf8":
            add("rf8 decode -> float32 into a buffer (out=)", lambda enc=enc: rl.decode(enc, out=buf), 5)
    wb, wh, wd = w.astype(ml_dtypes.bfloat16), w.astype(np.float16), w.astype(np.float64)
    add("RF8 encode nearest, bfloat16 input", lambda: rl.encode(wb, "rf8"), 5)
    add("RF8 encode nearest, float16 input", lambda: rl.encode(wh, "rf8"), 5)
    add("RF8 encode nearest, float64 input", lambda: rl.encode(wd, "rf8"), 17)
    add("ml_dtypes astype(float8_e4m3fn)", lambda: w.astype(ml_dtypes.float8_e4m3fn), 5)
    if torch is not None:
        t = torch.from_numpy(w)
        add("torch .to(float8_e4m3fn)", lambda: t.to(torch.float8_e4m3fn), 5)
        add("torch .to(float8_e5m2)", lambda: t.to(torch.float8_e5m2), 5)
        t8 = t.to(torch.float8_e4m3fn)
        add("torch float8_e4m3fn -> float32", lambda: t8.to(torch.float32), 5)
        m = n if not quick else n // 4
        add("authors' style RF8 in torch (log2/round/pow)", lambda: authors_style_rf8(t[:m]), 24, m)
    return rows


def torch_bit_equal(w) -> dict:
    """rf8lab's unscaled E4M3 (overflow nan) and E5M2 (ovf-inf) codes against torch's casts, which round
    to nearest even with the same overflow policies."""
    try:
        import torch
    except ImportError:
        return {}
    t = torch.from_numpy(w)
    out = {}
    for f, dt, over in (("e4m3", torch.float8_e4m3fn, "nan"), ("e5m2", torch.float8_e5m2, "ovf-inf")):
        ours = rl.encode(w, f, scale=None, overflow=over).codes
        out[f] = bool(np.array_equal(ours, t.to(dt).view(torch.uint8).numpy()))
    return out


def cold_start(runs=3) -> dict:
    """Seconds for `import rf8lab` and for the first rl.quantize after it, in fresh processes, and Numba's
    first call of a trivial cached kernel (the first run may compile; the medians are over warm-cache runs)."""
    def run(code):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return [float(v) for v in p.stdout.split()]

    res = [run(COLD_START) for _ in range(runs + 1)]
    floor = [run(NUMBA_FIRST_CALL)[0] for _ in range(runs + 1)]
    return {"import_s": round(statistics.median(r[0] for r in res[1:]), 3),
            "first_quantize_s": round(statistics.median(r[1] for r in res[1:]), 3),
            "numba_first_call_s": round(statistics.median(floor[1:]), 3)}


def cpu() -> str:
    """The CPU's model and widest vector extension (Linux; LLVM vectorizes the kernels' table reads into
    gathers with AVX-512, not with AVX2, which changes most figures)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    simd = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
    return f"{model}, {simd}"


def headline(d: dict) -> dict:
    """The target ratios from one thread count's rows."""
    copy = d["numpy float32 copy"]
    h = {"copy_melem_s": round(copy, 1)}
    for r in ("nearest", "log"):
        tensor = d[f"RF8 encode {r}, per tensor"]
        h[f"rf8_{r}_tensor_vs_copy"] = round(tensor / copy, 2)
        h[f"rf8_{r}_channel_vs_tensor"] = round(d[f"RF8 encode {r}, per channel"] / tensor, 2)
        h[f"rf8_{r}_block32_vs_tensor"] = round(d[f"RF8 encode {r}, per block 32"] / tensor, 2)
    if "torch .to(float8_e4m3fn)" in d:
        h["e4m3_vs_torch"] = round(d["E4M3 encode, unscaled"] / d["torch .to(float8_e4m3fn)"], 2)
        h["e5m2_vs_torch"] = round(d["E5M2 encode, unscaled"] / d["torch .to(float8_e5m2)"], 2)
    h["decode_vs_copy"] = {f: round(d[f"{f} decode -> float32"] / copy, 2) for f in DECODE_FORMATS}
    h["rf8_decode_into_buffer_vs_copy_into_buffer"] = round(
        d["rf8 decode -> float32 into a buffer (out=)"] / d["numpy float32 copy into a buffer"], 2)
    h["stochastic_vs_nearest"] = {}
    for f in STOCHASTIC_FORMATS:
        near = next(v for k, v in d.items() if k.startswith(f"{f} encode nearest ("))
        sto = next(v for k, v in d.items() if k.startswith(f"{f} encode stochastic ("))
        h["stochastic_vs_nearest"][f] = round(sto / near, 2)
    f32 = d["RF8 encode nearest, per tensor"]
    for src in ("bfloat16", "float16", "float64"):
        h[f"{src}_vs_float32_input"] = round(d[f"RF8 encode nearest, {src} input"] / f32, 2)
    h["vs_ml_dtypes_e4m3"] = round(d["E4M3 encode, unscaled"] / d["ml_dtypes astype(float8_e4m3fn)"], 2)
    if "authors' style RF8 in torch (log2/round/pow)" in d:
        h["rf8_vs_authors_style"] = round(f32 / d["authors' style RF8 in torch (log2/round/pow)"], 1)
    return h


def render(result: dict) -> str:
    """The markdown page, from the result JSON alone."""
    threads = result["threads"]
    lines = ["# Codec throughput", "",
             f"Command: `{result['command']}`", "",
             f"Machine: {result['machine']}; versions {json.dumps(result['versions'])}", "",
             f"{result['n']} generalized-Gaussian (shape 1) float32 weights unless stated, per channel and per block "
             "on a (n/4096, 4096) view; Melem/s (median of "
             f"{result['repeat']} runs, all in one process) and the memory traffic that implies, GB/s. Timings "
             "on this shared machine are noisy: read the ratios.", "",
             "| what | bytes/elem | " + " | ".join(f"{t} thread{'s' if t > 1 else ''} Melem/s | GB/s"
                                                 for t in threads) + " |",
             "|---|---|" + "---|---|" * len(threads)]
    names = list(result["rows"][str(threads[0])])
    for name in names:
        cells = []
        for t in threads:
            melem, nbytes = result["rows"][str(t)][name]
            cells.append(f"{melem:.0f} | {melem * nbytes / 1e3:.1f}")
        nbytes = result["rows"][str(threads[0])][name][1]
        lines.append(f"| {name} | {nbytes} | " + " | ".join(cells) + " |")
    lines += ["", "Targets (ratios in one run) and whether this run meets them:", "",
              "| target | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads) + " | goal |",
              "|---|" + "---|" * len(threads) + "---|"]
    for key, goal in result["goals"].items():
        vals = [result["headline"][str(t)].get(key) for t in threads]
        cells = []
        for v in vals:
            if isinstance(v, dict):
                cells.append(", ".join(f"{k} {x}" for k, x in v.items()))
            else:
                cells.append(str(v))
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {goal} |")
    lines += ["", f"Bit-equal to torch's casts on these weights: {json.dumps(result['torch_bit_equal'])}.", "",
              f"Cold start (fresh processes, warm Numba cache, medians): import rf8lab "
              f"{result['cold_start']['import_s']} s, first rl.quantize {result['cold_start']['first_quantize_s']} s "
              f"(of which Numba's own first call of any cached kernel, measured alone: "
              f"{result['cold_start'].get('numba_first_call_s', '?')} s).",
              ""]
    if result.get("notes"):
        lines += [result["notes"], ""]
    return "\n".join(lines)


GOALS = {
    "rf8_nearest_tensor_vs_copy": ">= 0.71", "rf8_log_tensor_vs_copy": ">= 0.71",
    "rf8_nearest_channel_vs_tensor": ">= 0.9", "rf8_nearest_block32_vs_tensor": ">= 0.9",
    "rf8_log_channel_vs_tensor": ">= 0.9", "rf8_log_block32_vs_tensor": ">= 0.9",
    "e4m3_vs_torch": ">= 1.0", "e5m2_vs_torch": ">= 1.0", "decode_vs_copy": ">= 1.4 each",
    "stochastic_vs_nearest": ">= 0.5 each", "bfloat16_vs_float32_input": ">= 1.0",
    "float16_vs_float32_input": ">= 1.0", "float64_vs_float32_input": ">= 0.5",
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2M elements, 3 repeats, the machine's threads only (< 30 s)")
    p.add_argument("--n", type=int, default=None, help="elements (default 16M, 2M with --quick)")
    p.add_argument("--json", default=None, help="write the whole result to this file")
    p.add_argument("--markdown", default=None, help="render the result as markdown to this file")
    p.add_argument("--notes", default="", help="a paragraph for the page (what the run shows)")
    p.add_argument("--render", default=None, metavar="JSON",
                   help="only rewrite --markdown from a result JSON written before (no measuring)")
    a = p.parse_args(argv)
    if a.render:
        if not a.markdown:
            p.error("--render needs --markdown FILE")
        with open(a.render) as f:
            result = json.load(f)
        if a.notes:
            result["notes"] = a.notes
        with open(a.markdown, "w") as f:
            f.write(render(result))
        return 0
    n = a.n or (1 << 21 if a.quick else 1 << 24)
    n -= n % 4096
    repeat = 3 if a.quick else 7
    rng = np.random.default_rng(0)
    w = stats.gennorm(1.0).rvs(size=n, random_state=rng)
    w = (w * 0.02 / w.std()).astype(np.float32)
    top = numba.config.NUMBA_NUM_THREADS
    threads = [top] if a.quick or top == 1 else [1, top]
    rows = {t: measure(w, repeat, t, a.quick) for t in threads}
    numba.set_num_threads(top)
    versions = {"numpy": np.__version__, "ml_dtypes": ml_dtypes.__version__, "numba": numba.__version__,
                "rf8lab": rl.__version__}
    try:
        import torch
        versions["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        versions["gfloat"] = importlib.metadata.version("gfloat")
    except importlib.metadata.PackageNotFoundError:
        pass
    cmd = "python benchmarks/bench_codec.py" + (" --quick" if a.quick else "") + (f" --n {a.n}" if a.n else "")
    result = {
        "command": cmd, "n": n, "repeat": repeat, "threads": threads,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu()}), Python {platform.python_version()}",
        "versions": versions,
        "rows": {str(t): {name: [round(v, 1), b] for name, v, b in rs} for t, rs in rows.items()},
        "headline": {str(t): headline({name: v for name, v, _ in rs}) for t, rs in rows.items()},
        "goals": GOALS, "torch_bit_equal": torch_bit_equal(w), "cold_start": cold_start(1 if a.quick else 3),
        "notes": a.notes,
    }
    width = max(len(name) for name, _, _ in rows[threads[0]])
    print(f"{n} GG weights; Melem/s (GB/s), median of {repeat}; threads {threads}")
    for i, (name, _, nbytes) in enumerate(rows[threads[0]]):
        cells = "  ".join(f"{rows[t][i][1]:8.0f} ({rows[t][i][1] * nbytes / 1e3:5.1f})" for t in threads)
        print(f"  {name:{width}}  {cells}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(render(result))
    last = {"n": n, "threads": top, **result["headline"][str(top)], "torch_bit_equal": result["torch_bit_equal"],
            **result["cold_start"], "versions": versions}
    if len(threads) > 1:
        one = result["headline"]["1"]
        last["scaling_1_to_2_threads"] = {k: [one[k], result["headline"][str(top)][k]]
                                          for k in ("rf8_nearest_tensor_vs_copy", "rf8_log_tensor_vs_copy")}
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
