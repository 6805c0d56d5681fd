"""Scale study: do the paper's claims (GG init ends better or converges faster; BackSlash shrinks the coded
model at little loss) start to hold as models grow? The character GPT on CPython's docs at four sizes spanning
38x in parameter count, every arm with the same seeds and batches.

    python analysis/scale_study.py [--budget-hours 3] [--workers 2] [--seeds 3] [--out reports]
    python analysis/scale_study.py --render        # the page and figure again from reports/scale_study.json

Arms per size: normal(0.02), Xavier, Kaiming (2/fan_in), `gg nu=1 xi=1` (the best GG init of the small
study, reports/init_study.md), `gg fitted` (the median GG shape fitted to the weight matrices of this size's
normal(0.02) model, seed 0, at ξ = 1), and BackSlash at two λ on the `gg nu=1 xi=1` init, against that arm
as its twin. Seed s draws the same batches in every arm, so differences are paired by seed.

Resumable and bounded: every run trains with atomic checkpoints in --work (runs/scale_study), each finished
run is written into OUT/scale_study.json at once, and a run already there is skipped, so the study can be
stopped at any time (Ctrl-C, or --budget-hours: runs stop at their last checkpoint when it is spent) and
continued by the same command. Runs are done size by size, smallest first.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import platform
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from rf8lab.nn.train import steps_to

SIZES = ((1, 32), (2, 64), (3, 96), (4, 128))  # (layers, width); heads of 32
QUICK_SIZES, QUICK_TOKENS, QUICK_EVAL_WINDOWS = ((1, 16), (1, 32)), 0.02, 16  # --quick: the machinery only
HEAD = 32
BATCH, BLOCK, EVAL_WINDOWS, EVALS = 32, 64, 128, 20
TOKENS_REF, PARAMS_REF = 1.0e6, 1.0e5  # the token budget: 1.0e6 * sqrt(N / 1e5) tokens for N parameters
LR_REF, WIDTH_REF = 3e-3, 64  # peak lr 3e-3 * sqrt(64 / width) (the small studies' 3e-3 at width 64)
ARMS = {  # name: (init, init kwargs, BackSlash lambda); None kwargs: the fitted shape
    "normal 0.02": ("normal", {}, 0.0),
    "xavier": ("xavier", {}, 0.0),
    "kaiming": ("kaiming", {"xi": 2.0, "fan": "in"}, 0.0),
    "gg nu=1 xi=1": ("gg", {"shape": 1.0, "xi": 1.0, "fan": "in"}, 0.0),
    "gg fitted": ("gg", None, 0.0),
    "backslash lambda=3": ("gg", {"shape": 1.0, "xi": 1.0, "fan": "in"}, 3.0),
    "backslash lambda=10": ("gg", {"shape": 1.0, "xi": 1.0, "fan": "in"}, 10.0),
}
BASELINES = ("normal 0.02", "xavier", "kaiming")
GG = ("gg nu=1 xi=1", "gg fitted")
TWIN = "gg nu=1 xi=1"  # BackSlash's twin: the same init and batches without the rate term
FIT_FROM = ("normal 0.02", 0)  # the run whose fitted shape `gg fitted` uses
BACKSLASH_FRAC, BACKSLASH_EPS = 0.6, 1e-3  # as in the pipeline study: BackSlash for the first 60% of the steps
SPECS = ("rf8:nearest:tensor", "e4m3:nearest:tensor")


class Stopped(Exception):
    """The budget ran out during a run; its last checkpoint is kept for the next invocation. args: the run's
    key and the seconds it ran in this invocation."""


def size_name(size) -> str:
    return f"{size[0]}x{size[1]}"


def model_config(size, vocab: int):
    from rf8lab import nn

    layers, width = size
    return nn.Config("gpt", n_layer=layers, n_head=max(1, width // HEAD), d_model=width, block_size=BLOCK,
                     vocab_size=vocab)


def plan(size, vocab: int, quick: bool = False) -> dict:
    """Parameters, steps, tokens and learning rate of one size (the budget rule; --quick: 2% of the tokens)."""
    from rf8lab import nn

    n = sum(int(np.prod(s)) for s in nn.param_shapes(model_config(size, vocab)).values())
    steps = max(EVALS, int(round(TOKENS_REF * (QUICK_TOKENS if quick else 1) * math.sqrt(n / PARAMS_REF)
                                 / (BATCH * BLOCK))))
    return {"size": size_name(size), "layers": size[0], "width": size[1], "params": n, "steps": steps,
            "tokens": steps * BATCH * BLOCK, "lr": LR_REF * math.sqrt(WIDTH_REF / size[1])}


def settings() -> dict:
    return {"batch": BATCH, "block": BLOCK, "eval_windows": EVAL_WINDOWS, "evals": EVALS, "head": HEAD,
            "tokens_ref": TOKENS_REF, "params_ref": PARAMS_REF, "lr_ref": LR_REF, "width_ref": WIDTH_REF,
            "arms": ARMS, "baselines": BASELINES, "gg": GG, "twin": TWIN, "fit_from": FIT_FROM,
            "backslash_frac": BACKSLASH_FRAC, "backslash_eps": BACKSLASH_EPS, "specs": SPECS}


def _worker_init():
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one run per core


def run_one(job: dict) -> dict:
    """Train one arm at one size and seed, then measure it; raises Stopped past the deadline."""
    from rf8lab import gg
    from rf8lab.codec.spec import QuantSpec
    from rf8lab.methods.backslash import BackSlash
    from rf8lab.methods.convert import convert, sizes
    from rf8lab.nn.data import CharCorpus
    from rf8lab.nn.train import TrainConfig, evaluate, train

    corpus = CharCorpus.load()
    p = job["plan"]
    cfg = model_config((p["layers"], p["width"]), corpus.vocab_size)
    every = max(1, p["steps"] // EVALS)
    tc = TrainConfig(steps=p["steps"], batch_size=BATCH, lr=p["lr"], warmup=every, eval_every=every,
                     eval_windows=QUICK_EVAL_WINDOWS if job["quick"] else EVAL_WINDOWS, seed=job["seed"],
                     init=job["init"], init_kw=job["init_kw"])
    bs = BackSlash(lam=job["lam"], form="loss", until=int(BACKSLASH_FRAC * p["steps"]), eps=BACKSLASH_EPS) \
        if job["lam"] else None

    t0 = time.perf_counter()

    def on_step(step, params):
        if time.time() > job["deadline"]:
            raise Stopped(job["key"], time.perf_counter() - t0)

    r = train(cfg, tc, corpus, out=run_folder(job), resume=True, progress=False, on_grads=bs.on_grads if bs else None,
              on_step=on_step)
    trained = time.perf_counter() - t0
    out = {"key": job["key"], "size": p["size"], "arm": job["arm"], "seed": job["seed"], "params": p["params"],
           "init_kw": job["init_kw"], "lam": job["lam"], "train_seconds": trained,
           "history": [[h["step"], h["val_loss"]] for h in r.history], "final_val_loss": r.history[-1]["val_loss"],
           "sizes": sizes(r.params),
           "converted_val_loss": {s: evaluate(convert(r.params, QuantSpec.parse(s)), cfg, corpus, tc)["val_loss"]
                                  for s in SPECS}}
    if (job["arm"], job["seed"]) == FIT_FROM:
        shapes = [float(gg.fit(v).shape) for k, v in r.params.items() if v.ndim == 2]
        out["fitted_shape"] = float(np.median(shapes))
    if bs is not None and bs.history:
        out["backslash_final_nu"] = bs.history[-1]["nu"]
    out["seconds"] = time.perf_counter() - t0
    return out


def run_folder(job: dict) -> Path:
    """Where a run keeps its checkpoints until its result is in the JSON."""
    return Path(job["work"]) / job["key"].replace("/", "_")


# ---- the JSON -------------------------------------------------------------------------------------
def load_result(path: Path) -> dict:
    """The study so far ({} before the first run); a damaged file is an error, never a fresh start."""
    if not path.exists():
        return {}
    try:
        d = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e}); restore it (git) or move it away") from None
    if not isinstance(d, dict) or not isinstance(d.get("runs"), dict) or not isinstance(d.get("sessions"), list):
        raise ValueError(f"{path}: not a scale study (no runs and sessions)")
    return d


def save_result(path: Path, d: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(d, indent=1) + "\n")
    tmp.replace(path)


def _lock(path: Path):
    """An exclusive lock on path (an open file; closing it releases), or None if another study holds it."""
    import fcntl

    f = open(path, "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def jobs_for(sizes, seeds, vocab, d, work, deadline, quick=False) -> list[dict]:
    """Every (size, arm, seed) not yet in d["runs"] (nor failed), smallest size first; `gg fitted` waits for its
    shape."""
    out = []
    for size in sizes:
        p = plan(size, vocab, quick)
        for arm, (init, kw, lam) in ARMS.items():
            for s in seeds:
                key = f"{p['size']}/{arm}/seed{s}"
                if key not in d["runs"] and key not in d.get("failed", {}):
                    out.append({"key": key, "plan": p, "arm": arm, "seed": s, "init": init, "init_kw": kw,
                                "lam": lam, "work": str(work), "deadline": deadline, "quick": quick})
    return out


def fitted_shape(d: dict, size: str):
    r = d["runs"].get(f"{size}/{FIT_FROM[0]}/seed{FIT_FROM[1]}")
    return None if r is None else r["fitted_shape"]


def run_study(a) -> int:
    from tqdm.auto import tqdm

    from rf8lab.nn.data import CharCorpus
    from rf8lab.reports.markdown import versions

    out, work = Path(a.out), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scale_study.json"
    sizes, seeds = (QUICK_SIZES if a.quick else SIZES), list(range(a.seeds))
    corpus = CharCorpus.load()
    vocab = corpus.vocab_size
    work.mkdir(parents=True, exist_ok=True)
    lock = _lock(work / "scale_study.lock")
    if lock is None:
        print(f"error: another scale study is writing {path} (it holds {work / 'scale_study.lock'})", file=sys.stderr)
        return 1
    try:
        d = load_result(path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    here = {"sizes": [plan(s, vocab, a.quick) for s in sizes], "seeds": seeds, "settings": settings(),
            "quick": a.quick, "data": {"source": corpus.source, "sha256": corpus.sha256}}
    if d and "data" not in d and d["sessions"] and \
            d["sessions"][0]["versions"].get("python") == platform.python_version():
        d["data"] = here["data"]  # begun before the corpus was recorded, on this Python: the same pydoc text
    if d and {k: d.get(k) for k in here} != json.loads(json.dumps(here)):
        print(f"error: {path} holds a study with other sizes, seeds, settings or data (CPython's docs differ "
              "between Python versions); move it away to start a new one (or pass the same --seeds and --quick)",
              file=sys.stderr)
        return 1
    d = d or {**here, "runs": {}, "sessions": []}
    d.setdefault("failed", {})
    d.setdefault("partial_seconds", {})
    start = time.time()
    deadline = start + 3600 * a.budget_hours
    todo = jobs_for(sizes, seeds, vocab, d, work, deadline, a.quick)
    session = {"command": "python analysis/scale_study.py " + " ".join(a.argv), "started": time.strftime(
        "%Y-%m-%d %H:%M:%S UTC", time.gmtime(start)), "versions": versions("rf8lab", "numpy", "scipy", "numba"),
        "machine": f"{platform.machine()}, {a.workers} workers", "runs": 0, "wall_s": 0.0}
    d["sessions"].append(session)
    # a run's time, for the bar's estimate: tokens x (parameters + 25 k), the per-token overhead of a small
    # model counted as 25 k parameters (fitted to single-core step times at 1x32 and 4x128)
    work_of = {j["key"]: j["plan"]["tokens"] * (j["plan"]["params"] + 25_000) / 1e12 for j in todo}
    bar = tqdm(total=sum(work_of.values()), desc=f"scale study, {len(todo)} runs", unit="work",
               bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} [{elapsed}<{remaining}]")
    stopped = 0
    # spawned, not forked: a fork of a process that has run Numba's parallel kernels (its threading layer
    # is not fork-safe) can die in the child
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(a.workers, mp_context=spawn, initializer=_worker_init) as ex:
        running = {}
        while todo or running:
            while todo and len(running) < a.workers and time.time() < deadline:
                ready = next((j for j in todo if j["init_kw"] is not None
                              or fitted_shape(d, j["plan"]["size"]) is not None), None)
                if ready is None:
                    break
                todo.remove(ready)
                if ready["init_kw"] is None:
                    ready["init_kw"] = {"shape": fitted_shape(d, ready["plan"]["size"]), "xi": 1.0, "fan": "in"}
                running[ex.submit(run_one, ready)] = ready
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                job = running.pop(f)
                key = job["key"]
                try:
                    r = f.result()
                except Stopped as e:  # its checkpoint stays; the seconds it ran count toward its compute
                    d["partial_seconds"][key] = d["partial_seconds"].get(key, 0.0) + e.args[1]
                    stopped += 1
                    save_result(path, d)
                    continue
                except Exception as e:  # a diverged or broken run is a result too: kept, named, not retried
                    d["failed"][key] = f"{type(e).__name__}: {e}"
                    save_result(path, d)
                    print(f"run {key} failed: {d['failed'][key]}", file=sys.stderr)
                    continue
                r["seconds"] += d["partial_seconds"].pop(key, 0.0)
                d["runs"][key] = r
                session["runs"] += 1
                session["wall_s"] = time.time() - start
                save_result(path, d)  # one finished run at a time: a stop loses at most the runs in flight
                shutil.rmtree(run_folder(job), ignore_errors=True)  # only once its result is saved
                bar.update(work_of[key])
    bar.close()
    session["wall_s"] = time.time() - start
    save_result(path, d)
    lock.close()
    left = len(jobs_for(sizes, seeds, vocab, d, work, deadline, a.quick))
    print(f"{session['runs']} runs done in {session['wall_s'] / 60:.1f} min; {left} left"
          + (f" ({stopped} stopped at their last checkpoint, continued by the same command)" if stopped else ""))
    render(out)
    return 0


# ---- the statistics ---------------------------------------------------------------------------------
def t95(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1)) if n > 1 else float("nan")


def mean_ci(v) -> tuple[float, float, int]:
    """Mean, half-width of its 95 % t-interval, and n."""
    v = np.asarray(v, float)
    n = v.size
    return float(v.mean()), (t95(n) * float(v.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")), n


def by_arm(d: dict, size: str) -> dict:
    """arm -> {seed: run} for one size."""
    out = {}
    for r in d["runs"].values():
        if r["size"] == size:
            out.setdefault(r["arm"], {})[r["seed"]] = r
    return out


def paired(a: dict, b: dict, f) -> list[float]:
    """f(run of a) - f(run of b) over the seeds both have."""
    return [f(a[s]) - f(b[s]) for s in sorted(set(a) & set(b))]


def size_summary(d: dict) -> list[dict]:
    """Per size: each arm's final loss, steps to the baseline's final loss, coded size and converted losses;
    the best baseline; GG minus it and BackSlash against its twin, paired by seed."""
    rows = []
    for p in d["sizes"]:
        arms = by_arm(d, p["size"])
        if not arms:
            continue
        row = {**p, "arms": {}, "gg_vs_best": {}, "backslash": {}}
        base = arms.get(BASELINES[0], {})
        target = float(np.mean([r["final_val_loss"] for r in base.values()])) if base else float("nan")
        row["target"] = target
        for arm, runs in arms.items():
            rs = list(runs.values())
            st = [steps_to(r["history"], target) for r in rs]  # history: [step, val_loss] pairs
            row["arms"][arm] = {
                "n": len(rs), "final": mean_ci([r["final_val_loss"] for r in rs]),
                "steps_to_target": [float(np.nanmean(st)) if np.isfinite(st).any() else float("nan"),
                                    int(np.isfinite(st).sum())],
                "exp_golomb": mean_ci([r["sizes"]["exp_golomb"] for r in rs]),
                "converted": {s: mean_ci([r["converted_val_loss"][s] - r["final_val_loss"] for r in rs])
                              for s in SPECS}}
        done = [a for a in BASELINES if a in arms and len(arms[a]) == len(d["seeds"])]
        if done:
            best = min(done, key=lambda a: row["arms"][a]["final"][0])
            row["best_baseline"] = best
            for g in GG:
                if g in arms:
                    diff = paired(arms[g], arms[best], lambda r: r["final_val_loss"])
                    row["gg_vs_best"][g] = {"diffs": diff, "ci": mean_ci(diff) if diff else None}
        for arm in ARMS:
            if ARMS[arm][2] and arm in arms and TWIN in arms:
                seeds = sorted(set(arms[arm]) & set(arms[TWIN]))
                saving = [1 - arms[arm][s]["sizes"]["exp_golomb"] / arms[TWIN][s]["sizes"]["exp_golomb"]
                          for s in seeds]
                vs_fixed = [1 - arms[arm][s]["sizes"]["exp_golomb"] / arms[arm][s]["sizes"]["fixed"] for s in seeds]
                loss = [arms[arm][s]["final_val_loss"] - arms[TWIN][s]["final_val_loss"] for s in seeds]
                row["backslash"][arm] = {"saving": mean_ci(saving), "vs_fixed": mean_ci(vs_fixed),
                                         "loss": mean_ci(loss), "savings": saving, "n": len(seeds)}
        rows.append(row)
    return rows


def trend(rows: list, get) -> dict | None:
    """Least squares of the per-size means of get(row) on log10(parameters): one point per size, so that how
    far the sizes fall from a line, not the seeds' spread, sets the interval. The slope per decade with its
    95 % interval (t with sizes - 2 degrees of freedom), the intercept; None with fewer than 3 sizes."""
    from scipy import stats

    pts = [(math.log10(r["params"]), float(np.mean(v))) for r in rows if len(v := list(get(r)))]
    if len(pts) < 3:  # a line through two sizes is no trend
        return None
    fit = stats.linregress(*zip(*pts))
    half = float(stats.t.ppf(0.975, len(pts) - 2)) * fit.stderr
    return {"slope": fit.slope, "slope_ci": half, "intercept": fit.intercept, "sizes": len(pts), "p": fit.pvalue}


def crossing(t: dict, level: float) -> float | None:
    """Parameter count where the trend line reaches `level`, if it heads there (None if it does not)."""
    if t is None or t["slope"] == 0:
        return None
    x = (level - t["intercept"]) / t["slope"]
    return 10 ** x if x > -50 and x < 50 else None


# ---- the page -----------------------------------------------------------------------------------------
def figure(d: dict, rows: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axs = plt.subplots(1, 3, figsize=(15, 4.4), dpi=80)
    ax = axs[0]
    for i, arm in enumerate(ARMS):
        pts = [(r["params"], *r["arms"][arm]["final"][:2]) for r in rows if arm in r["arms"]]
        if pts:
            x, m, h = map(np.array, zip(*pts))
            ax.errorbar(x * (1 + 0.03 * (i - 3)), m, yerr=np.nan_to_num(h), marker="o", ms=4, capsize=3,
                        ls="-" if arm in GG else ":" if ARMS[arm][2] else "--", label=arm)
    ax.set(xscale="log", xlabel="parameters", ylabel="final validation loss (nats/char)",
           title="final loss, mean and 95% interval over seeds")
    ax.legend(fontsize=7)
    ax = axs[1]
    for i, g in enumerate(GG):
        pts = [(r["params"], *r["gg_vs_best"][g]["ci"][:2]) for r in rows if r["gg_vs_best"].get(g)]
        if pts:
            x, m, h = map(np.array, zip(*pts))
            ax.errorbar(x * (1 + 0.04 * i), m, yerr=np.nan_to_num(h), marker="o", capsize=3, ls="none",
                        color=f"C{i}", label=f"{g} − best baseline")
            t = trend(rows, lambda r, g=g: r["gg_vs_best"].get(g, {}).get("diffs", []))
            if t:
                xs = np.geomspace(min(x), max(x), 20)
                ax.plot(xs, t["intercept"] + t["slope"] * np.log10(xs), color=f"C{i}", lw=1,
                        label=f"trend {t['slope']:+.3f} ± {t['slope_ci']:.3f} per decade")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="parameters", ylabel="paired difference in final loss",
           title="GG init minus the best usual init (< 0: GG better)")
    ax.legend(fontsize=7)
    ax = axs[2]
    for i, arm in enumerate(a for a in ARMS if ARMS[a][2]):
        pts = [(r["params"], *r["backslash"][arm]["saving"][:2]) for r in rows if arm in r["backslash"]]
        if pts:
            x, m, h = map(np.array, zip(*pts))
            ax.errorbar(x * (1 + 0.04 * i), 100 * m, yerr=100 * np.nan_to_num(h), marker="o", capsize=3,
                        label=arm)
    ax.set(xscale="log", xlabel="parameters", ylabel="exp-Golomb size saved vs twin (%)",
           title="BackSlash: coded size saved against its twin")
    ax.legend(fontsize=7)
    for ax in axs:
        ax.grid(alpha=0.3)
        ax.set_xticks([r["params"] for r in rows], [f"{r['size']}\n{_fmt_n(r['params'])}" for r in rows])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _ci(m, h, digits=4, pct=False, sign=False) -> str:
    """"m ± h" (h the 95 % half-width; left out where there is one seed), in percent if pct."""
    if m is None or not math.isfinite(m):
        return "—"
    k, unit = (100, "%") if pct else (1, "")
    text = f"{k * m:{'+' if sign else ''}.{digits}f}{unit}"
    return text + (f" ± {k * h:.{digits}f}" if math.isfinite(h) else "")


def _fmt_n(n: float) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def reading(d: dict, rows: list) -> list[str]:
    total = len(d["sizes"]) * len(ARMS) * len(d["seeds"])
    complete = [r for r in rows if all(len(by_arm(d, r["size"]).get(a, {})) == len(d["seeds"]) for a in ARMS)]
    span = complete[-1]["params"] / complete[0]["params"] if len(complete) > 1 else 1.0
    out = [f"- **Done**: {len(d['runs'])} of {total} runs; {len(complete)} of {len(d['sizes'])} sizes complete "
           f"(spanning {span:.0f}x in parameters)" + ("." if len(d["runs"]) == total else
                                                      "; the rest continue with the same command.")]
    if d.get("failed"):
        out.append(f"- **Failed** ({len(d['failed'])} runs, kept out of every number here and not retried): "
                   + "; ".join(f"`{k}`: {v}" for k, v in d["failed"].items()))
    for g in GG:
        t = trend(rows, lambda r, g=g: r["gg_vs_best"].get(g, {}).get("diffs", []))
        per = [f"{r['size']} {_ci(*r['gg_vs_best'][g]['ci'][:2], sign=True)}" for r in rows if r["gg_vs_best"].get(g)]
        if not per:
            continue
        better = [r["size"] for r in rows if r["gg_vs_best"].get(g) and r["gg_vs_best"][g]["ci"][0]
                  + r["gg_vs_best"][g]["ci"][1] < 0]
        line = (f"- **{g} against the best usual init** (final validation loss, paired; < 0 means GG is better): "
                + "; ".join(per) + ". GG is clearly better (interval below 0) at "
                + (", ".join(better) if better else "no size") + ".")
        if t:
            line += (f" Trend over {t['sizes']} sizes: {t['slope']:+.4f} ± {t['slope_ci']:.4f} per decade of "
                     f"parameters (p = {t['p']:.2g}).")
            if t["slope"] + t["slope_ci"] < 0:
                line += " The difference clearly falls with size."
            elif t["slope"] - t["slope_ci"] > 0:
                line += " The difference clearly grows with size: the trend points away from the claim."
            else:
                line += " The slope's interval includes 0: no trend with size is resolved at these sizes."
            n0, largest = crossing(t, 0.0), rows[-1]["params"]
            if t["slope"] < 0 and n0 and n0 > largest:
                line += (f" Its central line would reach 0 (GG as good as the best usual init) at about {n0:.2g} "
                         "parameters, the size a GG advantage would need on this trend.")
            elif t["slope"] < 0 and n0:
                line += (f" Its central line is below 0 from about {n0:.2g} parameters on, inside the sizes "
                         "studied, though no size's interval is.")
            elif t["slope"] >= 0:
                line += " Its central line does not head toward a GG advantage."
        out.append(line)
    speed = []
    for r in rows:
        if "best_baseline" not in r:
            continue
        g = min((a for a in GG if a in r["arms"]), key=lambda a: r["arms"][a]["final"][0], default=None)
        if g is None:
            continue
        (sg, ng), (sb, nb) = r["arms"][g]["steps_to_target"], r["arms"][r["best_baseline"]]["steps_to_target"]
        def steps(m, n, of):
            return f"{m:.0f} ({n}/{of})" if n else f"never (0/{of})"

        speed.append(f"{r['size']}: {g} {steps(sg, ng, r['arms'][g]['n'])} against {r['best_baseline']} "
                     f"{steps(sb, nb, r['arms'][r['best_baseline']]['n'])}, of {r['steps']} steps")
    if speed:
        out.append("- **Converges faster?** Steps to normal(0.02)'s mean final loss (mean over the seeds that reach "
                   "it; how many reach it), the better GG arm against the best usual init: " + "; ".join(speed)
                   + ".")
    for arm in (a for a in ARMS if ARMS[a][2]):
        per = [r for r in rows if arm in r["backslash"]]
        if not per:
            continue
        t = trend(per, lambda r: r["backslash"][arm]["savings"])
        line = (f"- **{arm}** against its twin: exp-Golomb size saved "
                + "; ".join(f"{r['size']} {_ci(*r['backslash'][arm]['saving'][:2], 1, True)} (loss "
                            f"{_ci(*r['backslash'][arm]['loss'][:2], sign=True)})" for r in per)
                + "; below a fixed-length code of its own values: "
                + ", ".join(f"{r['size']} {_ci(*r['backslash'][arm]['vs_fixed'][:2], 1, True)}" for r in per) + ".")
        if t:
            line += f" Trend of the saving: {100 * t['slope']:+.1f} ± {100 * t['slope_ci']:.1f} points per decade"
            n60 = crossing(t, 0.60)
            if t["slope"] - t["slope_ci"] > 0 and n60 and n60 > per[-1]["params"]:
                line += f"; if the line held, it would reach the paper's 60% at about {n60:.2g} parameters."
            elif t["slope"] + t["slope_ci"] < 0:
                line += "; the saving clearly falls with size, away from the paper's 60–90%."
            else:
                line += "; the slope's interval includes 0: no trend toward the paper's 60–90% is resolved."
        out.append(line)
    return out


def render(out: Path) -> int:
    d = load_result(Path(out) / "scale_study.json")
    if not d:
        print(f"error: {Path(out) / 'scale_study.json'} is missing: run the study first", file=sys.stderr)
        return 1
    rows = size_summary(d)
    figure(d, rows, Path(out) / "scale_study.png")
    st = d["settings"]
    compute = sum(r["seconds"] for r in d["runs"].values())
    wall = sum(s["wall_s"] for s in d["sessions"])
    L = ["# Scale study: GG init and BackSlash across model sizes", "",
         "Commands: " + "; then ".join(f"`{s['command']}` ({s['started']}, {s['runs']} runs, "
                                       f"{s['wall_s'] / 60:.0f} min, {s['machine']})" for s in d["sessions"]) + ".  ",
         f"Versions: {', '.join(f'{k} {v}' for k, v in d['sessions'][-1]['versions'].items())}. "
         f"Compute: {compute / 3600:.2f} core-hours in {wall / 3600:.2f} hours of wall time.", "",
         f"The character GPT on CPython's docs (pre-LN, heads of {st['head']}, context {st['block']}, batch "
         f"{st['batch']}), AdamW with warmup and cosine decay, the same seeds and batches in every arm "
         f"(seeds {d['seeds']}). **Budget rule**: {st['tokens_ref']:.1e} × sqrt(N / {st['params_ref']:.0e}) "
         f"tokens for N parameters (all parameters, embeddings included): larger models get more tokens but "
         f"fewer per parameter, which this machine's compute dictates (the page's claims are about this rule). "
         f"Peak learning rate {st['lr_ref']:g} × sqrt({st['width_ref']} / width). Validation loss on "
         f"{st['eval_windows']} fixed held-out windows, evaluated {st['evals']} times per run. `gg fitted`: the "
         f"median per-tensor GG shape (MLE) of the normal(0.02) model of that size, seed {st['fit_from'][1]}, at "
         f"ξ = 1. BackSlash: the rate term in the loss (ν re-estimated every step, pooled, ε = "
         f"{st['backslash_eps']:g}) for the first {st['backslash_frac']:.0%} of the steps, from the `{st['twin']}` "
         "init; its twin is that arm. Coded size: exp-Golomb bits per weight of the 2-D weights on the grid "
         "2^-10 (as in reports/pipeline.md). Intervals: 95 % t-intervals over seeds. Trends: least squares of "
         "each size's mean paired difference on log10(parameters), the slope's 95 % interval with sizes − 2 "
         "degrees of freedom (wide with four sizes, on purpose: the sizes, not the seeds, are the samples of "
         "the trend). The best usual init is chosen on the same seeds it is compared on, which favours it a "
         "little: GG has to beat the best of three.", "",
         "![scale study](scale_study.png)", "", "## Sizes", "",
         "| size | parameters | steps | tokens | tokens per parameter | peak lr |", "|---|---|---|---|---|---|"]
    for p in d["sizes"]:
        L.append(f"| {p['size']} | {p['params']:,} | {p['steps']} | {p['tokens'] / 1e6:.2f} M | "
                 f"{p['tokens'] / p['params']:.1f} | {p['lr']:.2e} |")
    L += ["", "## Per size", ""]
    for r in rows:
        L += [f"### {r['size']} ({_fmt_n(r['params'])} parameters)", "",
              f"Steps to normal(0.02)'s mean final loss ({r['target']:.4f}); best usual init: "
              f"{r.get('best_baseline', '— (not all seeds done)')}.", "",
              "| arm | seeds | final val loss | steps to target (reached) | exp-Golomb bits/weight | "
              + " | ".join(f"loss change in {s.split(':')[0].upper()}" for s in SPECS) + " |",
              "|---|---|---|---|---|" + "---|" * len(SPECS)]
        for arm, a in r["arms"].items():
            st_m, reached = a["steps_to_target"]
            L.append(f"| {arm} | {a['n']} | {_ci(*a['final'][:2], 3)} | "
                     + (f"{st_m:.0f} ({reached}/{a['n']})" if reached else f"— (0/{a['n']})")
                     + f" | {_ci(*a['exp_golomb'][:2], 2)} | "
                     + " | ".join(_ci(*a["converted"][s][:2], sign=True) for s in SPECS) + " |")
        L.append("")
    L += ["## Across sizes", "", *reading(d, rows), "",
          "Every number on this page comes from `scale_study.json` (`--render` rewrites the page and figure from "
          "it)."]
    (Path(out) / "scale_study.md").write_text("\n".join(L) + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-hours", type=float, default=3.0, help="stop starting and running runs after this")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--work", default="runs/scale_study", help="checkpoints of the runs in progress")
    ap.add_argument("--quick", action="store_true", help="two tiny sizes, a smoke test of the machinery")
    ap.add_argument("--render", action="store_true", help="only rewrite the page and figure from the JSON")
    a = ap.parse_args(argv)
    a.argv = list(argv if argv is not None else sys.argv[1:])
    if a.seeds < 1 or a.workers < 1 or not a.budget_hours > 0:
        print("error: --seeds and --workers must be >= 1 and --budget-hours > 0", file=sys.stderr)
        return 1
    return render(Path(a.out)) if a.render else run_study(a)


if __name__ == "__main__":
    sys.exit(main())
