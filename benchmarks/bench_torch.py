"""rf8lab.torch on CPU against rf8lab's NumPy path and against nn.Linear, in one process.

    python benchmarks/bench_torch.py [--quick] [--n N] [--threads T]

Prints a table, then one JSON object with the headline figures as its last line. Targets (ratios within one
run; timings on a shared machine are noisy, so each figure is the median of repeats, alternating the arms):
  - rt.quantize on a CPU tensor >= 0.9 x rl.quantize on the same memory (torch.from_numpy), every rounding;
  - a packed QuantLinear(384 -> 1536) at batch 32 with its decode-once cache <= 1.5 x nn.Linear's time
    (without the cache it decodes the weight on every call: that time is reported beside it, and so is the
    same layer quantized through torchao's quantize_ with rf8lab.torch.torchao.RF8WeightOnlyConfig).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

import rf8lab as rl
from rf8lab import torch as rt


def race(fns: dict, repeats: int) -> dict:
    """Median seconds of each callable, the arms alternating within every repeat (after one warm-up call)."""
    times = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


CODEC_CASES = {  # name: (quantize keyword arguments, 2-D?)
    "rf8 nearest tensor": ({}, False),
    "rf8 log tensor": ({"rounding": "log"}, False),
    "rf8 stochastic tensor": ({"rounding": "stochastic", "rng": 1}, False),
    "rf8 nearest channel": ({"scale": "channel"}, True),
    "e4m3 nearest tensor": ({"fmt": "e4m3"}, False),
    "mxfp8 block": ({"fmt": "mxfp8"}, True),
    "rf8 nearest bf16 input": ({"bf16": True}, False),
}


def codec(n: int, repeats: int) -> dict:
    x = (np.random.default_rng(0).standard_normal(n) * 0.02).astype(np.float32)
    out = {}
    for name, (kw, two_d) in CODEC_CASES.items():
        kw = dict(kw)
        fmt = kw.pop("fmt", "rf8")
        xn = x.reshape(1024, -1) if two_d else x
        xt = torch.from_numpy(xn)
        if kw.pop("bf16", False):
            xt = xt.to(torch.bfloat16)
            xn = rt.numpy_view(xt)
        t = race({"rl": lambda: rl.quantize(xn, fmt, **kw), "rt": lambda: rt.quantize(xt, fmt, **kw)}, repeats)
        out[name] = {"rl_Melem_s": n / t["rl"] / 1e6, "rt_Melem_s": n / t["rt"] / 1e6, "ratio": t["rl"] / t["rt"]}
    return out


def linear(batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    lin = nn.Linear(384, 1536)
    x = torch.randn(batch, 384)
    plain = rt.QuantLinear.from_linear(lin, "rf8")
    cached = rt.QuantLinear.from_linear(lin, "rf8", cache=True)
    arms = {"nn.Linear": lambda: lin(x), "QuantLinear": lambda: plain(x), "QuantLinear cache": lambda: cached(x)}
    try:  # the same layer through torchao's quantize_ (decodes per call, as QuantLinear without its cache)
        from torchao.quantization import quantize_

        from rf8lab.torch.torchao import RF8WeightOnlyConfig
    except ImportError:
        pass
    else:
        ao = nn.Sequential(nn.Linear(384, 1536))
        ao[0].load_state_dict(lin.state_dict())
        quantize_(ao, RF8WeightOnlyConfig("rf8"))
        arms["torchao RF8WeightOnlyConfig"] = lambda: ao(x)
    with torch.inference_mode():
        t = race(arms, repeats)
    out = {"ms": {k: v * 1e3 for k, v in t.items()},
           "cache_ratio": t["QuantLinear cache"] / t["nn.Linear"], "no_cache_ratio": t["QuantLinear"] / t["nn.Linear"],
           "cache_bytes": cached.cache_bytes(), "codes_bytes": plain.codes.numel()}
    if "torchao RF8WeightOnlyConfig" in t:
        out["torchao_ratio"] = t["torchao RF8WeightOnlyConfig"] / t["nn.Linear"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1M elements, fewer repeats (under 30 s)")
    p.add_argument("--n", type=int, default=None, help="elements per codec case (default 4M; --quick 1M)")
    p.add_argument("--threads", type=int, default=None, help="torch and Numba threads (default: all)")
    a = p.parse_args(argv)
    if a.threads:
        import numba
        torch.set_num_threads(a.threads)
        numba.set_num_threads(a.threads)
    n = a.n or (1 << 20 if a.quick else 1 << 22)
    repeats = 5 if a.quick else 15
    result = {"n": n, "threads": torch.get_num_threads(), "codec": codec(n, repeats),
              "linear": linear(32, 50 if a.quick else 200),
              "versions": {"torch": torch.__version__, "numpy": np.__version__, "rf8lab": rl.__version__},
              "machine": platform.processor() or platform.machine()}
    print(f"{'case':26s} {'rl Melem/s':>11s} {'rt Melem/s':>11s} {'rt/rl':>6s}")
    for name, r in result["codec"].items():
        print(f"{name:26s} {r['rl_Melem_s']:11.0f} {r['rt_Melem_s']:11.0f} {r['ratio']:6.2f}")
    lin = result["linear"]
    print("Linear(384 -> 1536), batch 32: " + ", ".join(f"{k} {v:.3f} ms" for k, v in lin["ms"].items())
          + f"; cache holds {lin['cache_bytes']} bytes beside {lin['codes_bytes']} of codes")
    ratios = [r["ratio"] for r in result["codec"].values()]
    last = {"rt_over_rl_min": min(ratios), "rt_over_rl_median": statistics.median(ratios),
            "rt_over_rl_target_met": min(ratios) >= 0.9,
            "linear_cache_over_nn": lin["cache_ratio"], "linear_no_cache_over_nn": lin["no_cache_ratio"],
            "linear_target_met": lin["cache_ratio"] <= 1.5, "linear_torchao_over_nn": lin.get("torchao_ratio"),
            "n": n, "threads": result["threads"],
            "torch": torch.__version__}
    print(json.dumps(last))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
