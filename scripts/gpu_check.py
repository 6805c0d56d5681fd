"""GPU check for rf8lab.torch: the parity tests on CUDA, then a throughput table.

    python scripts/gpu_check.py [--out reports/gpu_check.md] [--device cuda]

Runs tests/test_torch_codec.py (every bf16/fp16 pattern in every mode, 2^22 float32 per mode; on
CPU and, when CUDA is available, on CUDA) and times, on the device: RF8 encode and decode (GB/s of
float32 input / output) against torch's float8 casts, and an QuantLinear forward against nn.Linear.
Writes the table as markdown. Meant to finish in under 5 minutes on one GPU.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, device, repeat=20):
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "gpu_check.md"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--n", type=int, default=1 << 24, help="elements for the codec timings")
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check (use --device cpu for a dry run)", file=sys.stderr)
        return 2
    from torch import nn

    from rf8lab import torch as rt

    lines = [f"# rf8lab.torch on {a.device}", "",
             f"`python scripts/gpu_check.py --device {a.device}`; torch {torch.__version__}, "
             f"python {platform.python_version()}"
             + (f", {torch.cuda.get_device_name()}" if a.device == "cuda" else ""), ""]
    if not a.skip_tests:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_torch_codec.py",
                            "tests/test_torch_modules.py", "-p", "no:cacheprovider"],
                           cwd=ROOT, capture_output=True, text=True)
        tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-500:]
        lines += ["## Parity tests", "", f"`pytest tests/test_torch_codec.py tests/test_torch_modules.py`: {tail} "
                  f"({time.perf_counter() - t:.0f} s; the codec tests include CUDA when it is available)", ""]
        print(tail)
        if r.returncode:
            print(r.stdout[-3000:])
    dev = a.device
    x = (torch.randn(a.n, device=dev) * 0.02).reshape(-1, 4096)
    gb = x.numel() * 4 / 1e9
    rows = []
    enc = rt.encode(x, "rf8", scale="tensor")
    rows.append(("rf8lab.torch encode rf8 (per tensor)", timed(lambda: rt.encode(x, "rf8", scale="tensor"), dev)))
    rows.append(("rf8lab.torch decode rf8", timed(lambda: rt.decode(enc), dev)))
    rows.append(("rf8lab.torch encode e4m3 (per tensor)", timed(lambda: rt.encode(x, "e4m3", scale="tensor"), dev)))
    if hasattr(torch, "float8_e4m3fn"):
        f8 = x.to(torch.float8_e4m3fn)
        rows.append(("torch cast float32 -> float8_e4m3fn", timed(lambda: x.to(torch.float8_e4m3fn), dev)))
        rows.append(("torch cast float8_e4m3fn -> float32", timed(lambda: f8.to(torch.float32), dev)))
    lines += ["## Codec throughput", "", f"{x.numel():,} float32 values (GB/s of float32 in or out; medians of 20)", "",
              "| operation | ms | GB/s |", "|---|---|---|"]
    lines += [f"| {n} | {t * 1e3:.2f} | {gb / t:.1f} |" for n, t in rows]
    lin = nn.Linear(4096, 4096, device=dev)
    packed = rt.QuantLinear.from_linear(lin, "rf8")
    xb = torch.randn(64, 4096, device=dev)
    t_lin = timed(lambda: lin(xb), dev)
    t_rf8 = timed(lambda: packed(xb), dev)
    lines += ["", "## Linear layer, 4096 x 4096, batch 64", "", "| layer | ms | weight bytes |", "|---|---|---|",
              f"| nn.Linear (float32) | {t_lin * 1e3:.3f} | {lin.weight.numel() * 4:,} |",
              f"| QuantLinear (decode each call, then the same matmul) | {t_rf8 * 1e3:.3f} | "
              f"{packed.codes.numel():,} + scales |"]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
