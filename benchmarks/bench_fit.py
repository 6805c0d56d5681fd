"""GG fitting speed and quality: rf8lab against scipy.stats.gennorm.fit, in one process.

    python benchmarks/bench_fit.py [--quick]

Prints a table, then one JSON object with the headline figures as its last line.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import ml_dtypes
import numpy as np
import scipy
from scipy import stats

import rf8lab as rl
from rf8lab import gg


def timed(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="scipy timed once, smaller matrix and bf16 array (< 30 s)")
    p.add_argument("--markdown", default=None, help="also write what is printed to this file, as markdown")
    a = p.parse_args(argv)
    lines = []

    def say(text):  # print, and keep the line for the markdown copy
        lines.append(text)
        print(text)
    n = 10 ** 6
    head = {"n": n, "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "rf8lab": rl.__version__}}
    say(f"{'case':34} {'rf8lab ms':>10} {'scipy ms':>10} {'speedup':>8} "
        f"{'nu rf8lab':>10} {'nu scipy':>10} {'dloglik':>10}")
    for nu in (0.5, 1.0, 2.0):
        x = gg.gg(nu, 0.02).rvs(n, random_state=1)
        t_ours, r = timed(lambda: gg.fit(x), 1 if a.quick else 5)
        t0 = time.perf_counter()
        b, _, s = stats.gennorm.fit(x, floc=0)
        t_sp = time.perf_counter() - t0
        ll_sp = stats.gennorm(b, 0, s).logpdf(x).sum()
        d = (r.loglik - ll_sp) / abs(ll_sp)
        say(f"{'1e6 GG(nu=' + str(nu) + '), loc fixed':34} {t_ours * 1e3:10.1f} {t_sp * 1e3:10.1f} "
              f"{t_sp / t_ours:8.1f} {r.shape:10.5f} {b:10.5f} {d:10.2e}")
        head[f"nu{nu}_ms"] = round(t_ours * 1e3, 1)
        head[f"nu{nu}_speedup_vs_scipy"] = round(t_sp / t_ours, 1)
        head[f"nu{nu}_rel_loglik_minus_scipy"] = float(f"{d:.3g}")
    side = 1024 if a.quick else 4096
    w = gg.gg(0.9, 0.02).rvs((side, side), random_state=2).astype(np.float32)
    t_rows, r = timed(lambda: gg.fit(w, axis=0), 1 if a.quick else 3)
    say(f"per-channel fit {side}x{side}: {t_rows * 1e3:.0f} ms ({side} fits), median shape {np.median(r.shape):.4f}")
    head["per_channel"] = {"shape": [side, side], "ms": round(t_rows * 1e3, 1)}
    m = 10 ** 7 if a.quick else 10 ** 8
    xb = (gg.gg(0.9, 0.02).rvs(10 ** 6, random_state=3).astype(ml_dtypes.bfloat16))
    xb = np.resize(xb, m)  # 1e6 distinct draws tiled: the fast path's cost depends on the count only
    t_bf, r = timed(lambda: gg.fit(xb), 1 if a.quick else 3)
    say(f"{m:.0e} bfloat16 values (bincount fast path): {t_bf * 1e3:.0f} ms, shape {r.shape:.4f}")
    head["bf16_fast_path"] = {"n": m, "ms": round(t_bf * 1e3, 1)}
    say(json.dumps(head))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("# GG fitting speed\n\n")
            f.write(f"Command: `python benchmarks/bench_fit.py{' --quick' if a.quick else ''} "
                    f"--markdown {a.markdown}`  \n")
            f.write(f"Machine: {platform.machine()}, Python {platform.python_version()}; median of repeats for "
                    "rf8lab, one run for scipy (`scipy.stats.gennorm.fit(x, floc=0)`); same process, same data. "
                    "dloglik is (rf8lab - scipy) / |scipy| of the total log-likelihood.\n\n```\n")
            f.write("\n".join(lines[:-1]) + "\n```\n\nHeadline:\n\n```json\n" + lines[-1] + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
