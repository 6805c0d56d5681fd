"""Whole checkpoints: `rf8lab fit` and `rf8lab pack` on synthetic LLM-shaped bfloat16 checkpoints, sharded as
Hugging Face writes them, from small to 7 B parameters: wall time and peak anonymous memory (RssAnon of the
command's process, polled every 20 ms), and pack against copying the files.

    python benchmarks/bench_checkpoint.py [--quick] [--sizes 0.5,1,2,7] [--out reports]

Targets (issue 19): fit of 7 B bfloat16 parameters in <= 5 minutes with <= 3 GiB peak anonymous memory; pack at
>= 0.5 x the speed of copying the files, with <= 2 GiB. The checkpoints go to a temporary folder, deleted after
each size. --quick (one 0.05 B checkpoint, < 30 s) prints the JSON line only; the full run also writes
OUT/bench_checkpoint.md and .json. The last line is a JSON object with the headline figures.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import ml_dtypes
import numpy as np

from rf8lab.io import safetensors

SHAPE = (4096, 4096)          # one weight matrix: 16.8 M parameters
PER_SHARD = 2 ** 30           # bytes of bfloat16 per shard (Hugging Face writes shards of a few GB)


def make(folder: Path, params: float, seed: int = 0) -> int:
    """A sharded bfloat16 checkpoint of about `params` parameters (4096 x 4096 matrices of GG shape-1
    weights, names as a Llama checkpoint's); returns the parameter count."""
    folder.mkdir(parents=True)
    n = max(1, round(params / (SHAPE[0] * SHAPE[1])))
    names = [f"model.layers.{i // 7}.{part}.weight" for i, part in
             zip(range(n), itertools.cycle(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                           "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                                                           "mlp.down_proj")))]
    per = max(1, PER_SHARD // (2 * SHAPE[0] * SHAPE[1]))
    shards = [names[i:i + per] for i in range(0, n, per)]
    rng = np.random.default_rng(seed)
    wmap = {}
    for k, part in enumerate(shards, 1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        tensors = {name: rng.laplace(0, 0.02, SHAPE).astype(np.float32).astype(ml_dtypes.bfloat16) for name in part}
        safetensors.write(folder / fname, tensors)
        wmap.update({name: fname for name in part})
        del tensors
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 2 * n * SHAPE[0]
                                                                                  * SHAPE[1]}, "weight_map": wmap}))
    return n * SHAPE[0] * SHAPE[1]


def run(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RssAnon in GiB) of a command."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll():
        status = Path(f"/proc/{p.pid}/status")
        while p.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.02)

    watcher = threading.Thread(target=poll)
    watcher.start()
    err = p.communicate()[1]
    watcher.join()
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err[-500:]}")
    return time.perf_counter() - t0, peak[0] / 2 ** 20


def measure(params: float, tmp: Path) -> dict:
    ck = tmp / "ckpt"
    t0 = time.perf_counter()
    n = make(ck, params)
    made = time.perf_counter() - t0
    rf8lab = [str(Path(sys.executable).parent / "rf8lab")]  # the console script beside this Python
    fit_s, fit_mem = run([*rf8lab, "fit", str(ck), "-o", str(tmp / "fit"), "--workers", "2"])
    t0 = time.perf_counter()
    shutil.copytree(ck, tmp / "copy")
    copy_s = time.perf_counter() - t0
    shutil.rmtree(tmp / "copy")
    pack_s, pack_mem = run([*rf8lab, "pack", str(ck), "-o", str(tmp / "packed"), "--fmt", "rf8"])
    row = {"params": n, "bytes": 2 * n, "make_s": round(made, 1), "fit_s": round(fit_s, 1),
           "fit_peak_anon_gib": round(fit_mem, 2), "copy_s": round(copy_s, 1), "pack_s": round(pack_s, 1),
           "pack_vs_copy": round(copy_s / pack_s, 2), "pack_peak_anon_gib": round(pack_mem, 2)}
    for p in (ck, tmp / "fit", tmp / "packed"):
        shutil.rmtree(p, ignore_errors=True)
    return row


def page(result: dict) -> str:
    lines = ["# Whole checkpoints: fit and pack", "", f"Command: `{result['command']}`", "",
             f"Machine: {result['machine']}; versions {json.dumps(result['versions'])}.", "",
             "Synthetic bfloat16 checkpoints of 4096 x 4096 Laplace-shaped matrices named as a Llama checkpoint's, "
             "in shards of 1 GiB with a Hugging Face index, in a temporary folder; peak memory is the command's "
             "RssAnon (anonymous memory: not the memory-mapped checkpoint), polled every 20 ms; pack against "
             "copying the same files (shutil.copytree).", "",
             "| parameters | GB | fit (s) | fit peak anon (GiB) | copy (s) | pack (s) | pack / copy speed | "
             "pack peak anon (GiB) |", "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['params'] / 1e9:.2f} B | {r['bytes'] / 1e9:.1f} | {r['fit_s']} | "
                     f"{r['fit_peak_anon_gib']} | {r['copy_s']} | {r['pack_s']} | {r['pack_vs_copy']} | "
                     f"{r['pack_peak_anon_gib']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one 0.05 B checkpoint, the JSON line only")
    ap.add_argument("--sizes", default="0.5,1,2,7", help="billions of parameters, comma-separated")
    ap.add_argument("--out", default="reports")
    a = ap.parse_args()
    sizes = [0.05] if a.quick else [float(s) for s in a.sizes.split(",")]
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="rf8lab-bench-ckpt-") as tmp:
            rows.append(measure(size * 1e9, Path(tmp)))
        print(json.dumps(rows[-1]), file=sys.stderr)
    from importlib.metadata import version
    result = {"command": " ".join(["python benchmarks/bench_checkpoint.py", *sys.argv[1:]]), "rows": rows,
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              "versions": {p: version(p) for p in ("rf8lab", "numpy", "scipy")}}
    if not a.quick:
        out = Path(a.out)
        (out / "bench_checkpoint.json").write_text(json.dumps(result, indent=1) + "\n")
        (out / "bench_checkpoint.md").write_text(page(result))
    last = rows[-1]
    print(json.dumps({"params": [r["params"] for r in rows], "fit_s": [r["fit_s"] for r in rows],
                      "fit_peak_anon_gib": [r["fit_peak_anon_gib"] for r in rows],
                      "pack_vs_copy": [r["pack_vs_copy"] for r in rows],
                      "pack_peak_anon_gib": [r["pack_peak_anon_gib"] for r in rows],
                      "largest": {k: last[k] for k in ("params", "fit_s", "fit_peak_anon_gib", "pack_vs_copy",
                                                        "pack_peak_anon_gib")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
