"""GPU check for rf8lab.torch: parity on CUDA, codec throughput, the W8A16 matmul, QuantLinear and torchao.

    python scripts/gpu_check.py [--out reports/gpu_check.md] [--device cuda] [--quick] [--skip-tests]

One prepared run of at most about 5 minutes on one GPU (the device may be lent for 15 minutes in all):
1. Parity: pytest on tests/test_torch_codec.py (every bf16/fp16 pattern in every mode and 2^20 float32 inputs per
   mode, on the CUDA engines "triton" and "vectorized" beside the CPU ones), test_triton.py (the W8A16 kernel on
   CUDA), test_torch_modules.py and test_torchao.py.
2. Codec throughput on 2^26 float32 values (GB/s of the bytes moved: 4 in + 1 out per element for an encode,
   1 + 4 for a decode) for RF8 / E4M3 / MXFP8 in both CUDA engines, against torch's native float8 casts and a
   device-to-device copy (the memory bandwidth the device reaches; target: encode >= 70 % of it).
3. W8A16: `triton_kernels.linear` (RF8 codes, per-channel scales, bf16 activations) against bf16 `F.linear`
   at batch 1, 16 and 256 on 4096 x 4096 and 4096 -> 14336, over a few tile shapes (target: batch 1 at
   4096 x 4096 >= 1.5 x faster than bf16).
4. A small transformer (nn.TransformerEncoder, d 1024, 4 layers, bf16): forward time and output error with
   rt.convert (QuantLinear) and with torchao's quantize_(RF8WeightOnlyConfig).

Each section runs on its own: an error is written into the report and the next section runs. Writes
`--out` (markdown) and the same figures as JSON beside it, and prints the JSON as its last line.
`--device cpu --quick` is a dry run of the script itself (Triton's interpreter, small sizes).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TESTS = ["tests/test_torch_codec.py", "tests/test_triton.py", "tests/test_torch_modules.py", "tests/test_torchao.py"]


def timed(fn, device: str, repeat: int) -> float:
    """Median seconds of fn() after one warm-up call (synchronized on CUDA)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fn()
    sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def parity(a) -> tuple[list[str], dict]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not gpu_check_dry_run",
                        *TESTS], cwd=ROOT,
                       capture_output=True, text=True, timeout=a.test_timeout)
    tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]
    if r.returncode:
        print(r.stdout[-4000:], file=sys.stderr)
    took = time.perf_counter() - t
    return ([f"`pytest {' '.join(TESTS)}`: **{tail}** ({took:.0f} s; the codec tests run the CUDA engines "
             "'triton' and 'vectorized' beside the CPU ones)"], {"tests": tail, "tests_passed": r.returncode == 0})


def codec(a, rt) -> tuple[list[str], dict]:
    dev, n = a.device, (1 << 16 if a.quick else 1 << 26)
    x = (torch.randn(n, device=dev) * 0.02).reshape(-1, 4096 if n >= 4096 else 256)
    moved = x.numel() * 5 / 1e9  # GB: 4 bytes in and 1 out (encode), 1 in and 4 out (decode)
    rows, results = [], {}
    copy_t = timed(lambda: x.clone(), dev, a.repeat)
    bandwidth = x.numel() * 8 / 1e9 / copy_t
    rows.append(("float32 copy (clone)", copy_t, bandwidth, 1.0))
    results["copy_gb_s"] = round(bandwidth, 1)
    if hasattr(torch, "float8_e4m3fn"):
        for name, dt in (("e4m3fn", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)):
            t = timed(lambda dt=dt: x.to(dt), dev, a.repeat)
            rows.append((f"torch float32 -> float8_{name}", t, moved / t, moved / t / bandwidth))
            results[f"torch_to_{name}_gb_s"] = round(moved / t, 1)
        f8 = x.to(torch.float8_e4m3fn)
        t = timed(lambda: f8.to(torch.float32), dev, a.repeat)
        rows.append(("torch float8_e4m3fn -> float32", t, moved / t, moved / t / bandwidth))
    for backend in ("triton", "vectorized"):
        for spec in ("rf8:nearest:tensor", "rf8:nearest:channel", "rf8:log:tensor", "rf8:nearest:block",
                     "e4m3:nearest:tensor", "mxfp8"):
            if backend == "vectorized" and spec not in ("rf8:nearest:tensor", "e4m3:nearest:tensor"):
                continue
            enc = rt.encode(x, spec, backend=backend)
            t = timed(lambda s=spec, b=backend: rt.encode(x, s, backend=b), dev, a.repeat)
            rows.append((f"rt.encode {spec} [{backend}]", t, moved / t, moved / t / bandwidth))
            results[f"encode {spec} [{backend}] vs copy"] = round(moved / t / bandwidth, 3)
            t = timed(lambda e=enc, b=backend: rt.decode(e, backend=b), dev, a.repeat)
            rows.append((f"rt.decode {spec} [{backend}]", t, moved / t, moved / t / bandwidth))
            results[f"decode {spec} [{backend}] vs copy"] = round(moved / t / bandwidth, 3)
    lines = [f"{x.numel():,} float32 values; GB/s of bytes moved (5 per element; 8 for the copy); medians of "
             f"{a.repeat}. Target: encode >= 0.70 x the copy's bandwidth.", "",
             "| operation | ms | GB/s | x copy |", "|---|---|---|---|"]
    lines += [f"| {name} | {t * 1e3:.3f} | {gbs:.1f} | {r:.2f} |" for name, t, gbs, r in rows]
    return lines, results


def w8a16(a, rt) -> tuple[list[str], dict]:
    import torch.nn.functional as F

    from rf8lab.torch import triton_kernels as tk

    dev = a.device
    shapes = [(256, 256)] if a.quick else [(4096, 4096), (14336, 4096)]  # (out, in)
    batches = [1, 16] if a.quick else [1, 16, 256]
    tiles = [(16, 64, 32)] if a.quick else [(16, 64, 32), (16, 32, 128), (16, 64, 128), (16, 128, 64),
                                             (64, 64, 64), (128, 128, 32)]
    lines = ["RF8 codes with per-output-channel scales, bf16 activations, float32 accumulation; bf16 F.linear "
             "is the baseline. Best tile (BLOCK_M, BLOCK_N, BLOCK_K) of those tried.", "",
             "| weight (out x in) | batch | bf16 F.linear ms | W8A16 ms | speed-up | best tile | max rel. error |",
             "|---|---|---|---|---|---|---|"]
    results = {}
    for n, k in shapes:
        w = torch.randn(n, k, device=dev) * 0.02
        enc = rt.encode(w, rt.weight_spec("rf8"))
        wq = rt.decode(enc, torch.bfloat16)
        for m in batches:
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            base = timed(lambda: F.linear(x, wq), dev, a.repeat)
            tried = []
            for b in tiles:  # a tile the device cannot hold (shared memory) is skipped, not fatal
                try:
                    tried.append((timed(lambda b=b: tk.linear(x, enc, block=b), dev, a.repeat), b))
                except Exception as e:  # noqa: BLE001 (triton's OutOfResources and compile errors alike)
                    print(f"tile {b} on {n}x{k}: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
            best = min(tried)
            want = F.linear(x.float(), rt.decode(enc))
            got = tk.linear(x, enc, block=best[1]).float()
            err = float(((got - want).abs().max() / want.abs().max().clamp_min(1e-30)))
            lines.append(f"| {n} x {k} | {m} | {base * 1e3:.3f} | {best[0] * 1e3:.3f} | {base / best[0]:.2f} | "
                         f"{best[1]} | {err:.1e} |")
            results[f"w8a16 {n}x{k} batch {m} speedup"] = round(base / best[0], 3)
    return lines, results


def transformer(a, rt) -> tuple[list[str], dict]:
    from torch import nn

    dev, d, layers = a.device, (64 if a.quick else 1024), (1 if a.quick else 4)

    def model():
        torch.manual_seed(0)
        layer = nn.TransformerEncoderLayer(d, 8 if d >= 512 else 4, 4 * d, batch_first=True, dropout=0.0)
        return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).to(dev, torch.bfloat16).eval()

    x = torch.randn(8, 128 if not a.quick else 16, d, device=dev, dtype=torch.bfloat16)
    rows, results = [], {}
    # torch's fused encoder fast path reads layer.weight as data and never calls the layers' forward: off, so
    # that the packed layers run (QuantLinear's W8A16 kernel, the torchao tensor's F.linear)
    fastpath = getattr(torch.backends.mha, "set_fastpath_enabled", None)
    if fastpath:
        fastpath(False)
    with torch.no_grad():
        ref = model()
        want = ref(x).float()
        rows.append(("bf16 nn.Linear", timed(lambda: ref(x), dev, a.repeat), 0.0))
        packed = rt.convert(model(), "rf8")
        rows.append(("rt.convert(model, 'rf8') (QuantLinear)", timed(lambda: packed(x), dev, a.repeat),
                     float((packed(x).float() - want).abs().max())))
        try:
            from torchao.quantization import quantize_

            from rf8lab.torch.torchao import RF8WeightOnlyConfig
        except ImportError as e:
            rows.append((f"torchao: not installed ({e})", float("nan"), float("nan")))
        else:
            ao = model()
            quantize_(ao, RF8WeightOnlyConfig("rf8"))
            rows.append(("quantize_(model, RF8WeightOnlyConfig('rf8'))", timed(lambda: ao(x), dev, a.repeat),
                         float((ao(x).float() - want).abs().max())))
    lines = [f"nn.TransformerEncoder: {layers} layers, d {d}, bf16, batch {tuple(x.shape)}, torch's MHA fast path "
             "off; the MultiheadAttention projections stay bf16 (they are not nn.Linear calls), the feed-forward "
             "Linears are packed.", "",
             "| model | ms | max abs. difference from bf16 |", "|---|---|---|"]
    lines += [f"| {name} | {t * 1e3:.3f} | {err:.3g} |" for name, t, err in rows]
    results.update({f"transformer {name} ms": round(t * 1e3, 3) for name, t, _ in rows})
    return lines, results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "gpu_check.md"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes (a dry run of the script)")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--test-timeout", type=int, default=150, help="seconds for the parity tests")
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device (use --device cpu --quick for a dry run)", file=sys.stderr)
        return 2
    if a.device != "cuda":  # a dry run: Triton's interpreter, before triton is first imported
        import os

        os.environ.setdefault("TRITON_INTERPRET", "1")
    from rf8lab import torch as rt

    started = time.perf_counter()
    name = torch.cuda.get_device_name() if a.device == "cuda" else platform.processor() or "cpu"
    from rf8lab.torch import triton_kernels  # sets up Triton's interpreter where there is no CUDA

    head = [f"# rf8lab.torch on {name}", "",
            f"`python scripts/gpu_check.py{' --quick' if a.quick else ''} --device {a.device}`; torch "
            f"{torch.__version__}, triton {triton_kernels.triton.__version__}, python {platform.python_version()}",
            ""]
    sections = [("Parity", None if a.skip_tests else parity), ("Codec throughput", codec),
                ("W8A16 matmul", w8a16), ("A small transformer", transformer)]
    body, results = [], {"device": name}
    for title, fn in sections:
        if fn is None:
            continue
        t = time.perf_counter()
        try:
            lines, res = fn(a) if fn is parity else fn(a, rt)
        except Exception as e:  # one section's failure must not lose the others' figures
            traceback.print_exc()
            lines, res = [f"**failed**: `{type(e).__name__}: {str(e)[:300]}`"], {f"{title} failed": str(e)[:300]}
        body += [f"## {title}", "", *lines, "", f"({time.perf_counter() - t:.0f} s)", ""]
        results.update(res)
        print(f"{title}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = Path(a.out)
    out.write_text("\n".join(head + body) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(head + body))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
