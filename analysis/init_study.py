"""Initialization study: does GG initialization make small transformers converge faster and end better?

    python analysis/init_study.py [--quick] [--workers 2] [--seeds 3] [--out reports]

For a character GPT (CPython's docs) and a ViT (sklearn digits), every init in INITS is trained with
the same seeds, batches and budget (seed s draws the same batches for every init, so differences
are paired). "gg fitted" uses the median GG shape fitted to the 2-D weights of a model of the same
kind trained beforehand from the normal(0.02) init with a seed outside the study's. Writes
reports/init_study.md, reports/init_study.json and reports/init_study_*.png.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rf8lab.nn.train import steps_to

INITS = {  # name: (method, kwargs)
    "normal 0.02": ("normal", {}),
    "xavier": ("xavier", {}),
    "kaiming": ("kaiming", {"xi": 2.0, "fan": "in"}),
    "gg nu=0.5": ("gg", {"shape": 0.5, "xi": 2.0, "fan": "in"}),
    "gg nu=1": ("gg", {"shape": 1.0, "xi": 2.0, "fan": "in"}),
    "gg nu=1.5": ("gg", {"shape": 1.5, "xi": 2.0, "fan": "in"}),
    "gg nu=2": ("gg", {"shape": 2.0, "xi": 2.0, "fan": "in"}),
    "gg nu=1 xi=1": ("gg", {"shape": 1.0, "xi": 1.0, "fan": "in"}),  # LeCun's variance, near Xavier's
}
BASELINE = "normal 0.02"
REF_SEED = 1000  # the run whose weights give "gg fitted"; not one of the study's seeds


def setups(quick: bool) -> dict:
    from rf8lab import nn

    corpus = nn.CharCorpus.load()
    gpt = nn.Config("gpt", n_layer=2, n_head=4, d_model=64, block_size=64, vocab_size=corpus.vocab_size)
    vit = nn.Config("vit", n_layer=2, n_head=4, d_model=64, n_classes=10, patch_size=2)
    s = 0.1 if quick else 1.0
    return {
        "gpt": (gpt, dict(steps=int(1200 * s), batch_size=32, lr=3e-3, warmup=int(50 * s),
                          eval_every=max(5, int(40 * s)), eval_windows=128)),
        "vit": (vit, dict(steps=int(600 * s), batch_size=64, lr=3e-3, warmup=int(30 * s),
                          eval_every=max(5, int(20 * s)))),
    }


def _worker_init():
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # two single-threaded runs at once use 2 cores better than one run on both


def run_one(job):
    from rf8lab import nn
    from rf8lab.nn.train import TrainConfig, load_data, train

    kind, cfgd, tcd, name, seed = job
    cfg = nn.Config.from_dict(cfgd)
    method, kw = INITS[name] if name in INITS else ("gg", tcd.pop("init_kw"))
    tc = TrainConfig(**{**tcd, "seed": seed, "init": method, "init_kw": kw})
    t = time.perf_counter()
    r = train(cfg, tc, load_data(kind), progress=False)
    return {"kind": kind, "init": name, "seed": seed, "seconds": time.perf_counter() - t, "history": r.history,
            "params": r.params if seed == REF_SEED else None}


def fitted_shape(params: dict) -> tuple[float, dict]:
    """Median over the 2-D weights of the per-tensor GG shape (loc 0)."""
    from rf8lab import gg

    shapes = {k: float(gg.fit(v).shape) for k, v in params.items() if v.ndim == 2}
    return float(np.median(list(shapes.values()))), shapes


def summarize(runs: list, kind: str) -> tuple[list, float]:
    by = {}
    for r in runs:
        if r["kind"] == kind and r["seed"] != REF_SEED:
            by.setdefault(r["init"], []).append(r)
    base_final = np.mean([r["history"][-1]["val_loss"] for r in by[BASELINE]])
    base = {r["seed"]: r["history"][-1]["val_loss"] for r in by[BASELINE]}
    rows = []
    for name, rs in by.items():
        rs.sort(key=lambda r: r["seed"])
        final = np.array([r["history"][-1]["val_loss"] for r in rs])
        st = np.array([steps_to([(h["step"], h["val_loss"]) for h in r["history"]], base_final) for r in rs])
        diff = np.array([r["history"][-1]["val_loss"] - base[r["seed"]] for r in rs])
        row = {"init": name, "seeds": [r["seed"] for r in rs], "final_val_loss": final.tolist(),
               "final_mean": float(final.mean()), "final_sd": float(final.std(ddof=1)) if len(rs) > 1 else 0.0,
               "paired_diff_mean": float(diff.mean()),
               "paired_diff_sd": float(diff.std(ddof=1)) if len(rs) > 1 else 0.0,
               "steps_to_target": st.tolist(), "reached": int(np.isfinite(st).sum()),
               "steps_mean": float(np.nanmean(st)) if np.isfinite(st).any() else float("nan"),
               "first_eval_val_loss": float(np.mean([r["history"][0]["val_loss"] for r in rs])),
               "eval_every": rs[0]["history"][0]["step"]}
        if kind == "vit":
            acc = np.array([r["history"][-1]["val_acc"] for r in rs])
            row.update(final_acc=acc.tolist(), acc_mean=float(acc.mean()),
                       acc_sd=float(acc.std(ddof=1)) if len(rs) > 1 else 0.0)
        rows.append(row)
    return rows, float(base_final)


def plot(runs: list, kind: str, path: Path, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=90)
    names = list(dict.fromkeys(r["init"] for r in runs if r["kind"] == kind and r["seed"] != REF_SEED))
    for i, name in enumerate(names):
        rs = [r for r in runs if r["kind"] == kind and r["init"] == name and r["seed"] != REF_SEED]
        steps = [h["step"] for h in rs[0]["history"]]
        v = np.array([[h["val_loss"] for h in r["history"]] for r in rs])
        style = "-" if name.startswith("gg") else "--"
        ax.plot(steps, v.mean(0), style, lw=1.4, label=name, color=f"C{i}")
        ax.fill_between(steps, v.min(0), v.max(0), alpha=0.15, color=f"C{i}")
    ax.axhline(target, color="k", lw=0.8, ls=":", label="target (baseline's final)")
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    lo = min(np.min([h["val_loss"] for h in r["history"]]) for r in runs if r["kind"] == kind)
    ax.set_ylim(lo * 0.97, lo + 2.5 * (target - lo) + 0.6)
    ax.set_title(f"{kind.upper()}: validation loss, mean over seeds (band: min-max)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _cmp(a: dict, b: dict) -> tuple[float, float, str]:
    """Paired-by-seed difference of final val loss a - b, its sd, and a word for it (2 sd rule)."""
    da = dict(zip(a["seeds"], a["final_val_loss"]))
    d = np.array([da[s] - v for s, v in zip(b["seeds"], b["final_val_loss"])])
    m, sd = float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else float("nan")
    word = ("better" if m < -2 * sd / np.sqrt(len(d))
            else "worse" if m > 2 * sd / np.sqrt(len(d)) else "no clear difference")
    return m, sd, word


def verdict(rows: list, kind: str) -> list[str]:
    """Claim by claim, with paired differences (mean ± sd over seeds; 'clear' = beyond 2 standard errors)."""
    by = {r["init"]: r for r in rows}
    ggs = [r for r in rows if r["init"].startswith("gg")]
    bases = [r for r in rows if not r["init"].startswith("gg")]
    best_base = min(bases, key=lambda r: r["final_mean"])
    best_gg = min(ggs, key=lambda r: r["final_mean"])
    K = kind.upper()
    m, sd, word = _cmp(best_gg, best_base)
    holds = "holds" if word == "better" else "does not hold"
    out = [f"- **Ends better** ({K}): the best GG init ({best_gg['init']}, {best_gg['final_mean']:.4f}) against the "
           f"best baseline ({best_base['init']}, {best_base['final_mean']:.4f}): "
           f"paired difference {m:+.4f} ± {sd:.4f}, "
           f"{word} → the claim {holds} here."]
    if "kaiming" in by:
        parts = []
        for r in ggs:
            if r["init"] in ("gg nu=2", "gg nu=1 xi=1"):
                continue
            m, sd, word = _cmp(r, by["kaiming"])
            parts.append(f"{r['init']} {m:+.4f} ± {sd:.4f} ({word})")
        m2, sd2, _ = _cmp(by["gg nu=2"], by["kaiming"]) if "gg nu=2" in by else (np.nan, np.nan, "")
        out.append(f"- **Shape alone** ({K}), against `kaiming` at the same variance 2/fan_in: " + ", ".join(parts)
                   + f". For scale: `gg nu=2` is the same distribution as `kaiming` with other draws, and differs by "
                   f"{m2:+.4f} ± {sd2:.4f}.")
    txt = ", ".join(f"{r['init']} {r['steps_mean']:.0f} ({r['reached']}/{len(r['seeds'])})"
                    if np.isfinite(r["steps_mean"]) else f"{r['init']} never"
                    for r in sorted(rows, key=lambda r: np.nan_to_num(r["steps_mean"], nan=1e9)))
    full = [r for r in rows if r["reached"] == len(r["seeds"])]
    g_full = [r for r in full if r["init"].startswith("gg")]
    b_full = [r for r in full if not r["init"].startswith("gg")]
    if not g_full:
        word = "does not hold: no GG init reached the target with every seed"
    elif not b_full:
        word = "holds: only GG inits reached the target with every seed"
    else:
        g, b = min(g_full, key=lambda r: r["steps_mean"]), min(b_full, key=lambda r: r["steps_mean"])
        d = np.array(g["steps_to_target"]) - np.array(b["steps_to_target"])
        se = d.std(ddof=1) / np.sqrt(len(d))
        word = (f"holds ({g['init']} {d.mean():+.0f} ± {d.std(ddof=1):.0f} steps against {b['init']})"
                if d.mean() < -2 * se
                else f"does not hold ({b['init']} is faster by {d.mean():.0f} ± {d.std(ddof=1):.0f} steps "
                f"than {g['init']})"
                if d.mean() > 2 * se else f"is not supported ({g['init']} {d.mean():+.0f} ± {d.std(ddof=1):.0f} steps "
                f"against {b['init']}, within the spread)")
    out.append(f"- **Converges faster** ({K}): mean steps to the target (seeds that reached it): {txt}. Comparing the "
               f"fastest GG and baseline inits that reached it with every seed, paired by seed, the claim {word}. "
               f"Steps are read at evaluations every {rows[0].get('eval_every', '')} steps, interpolated.")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the steps, for a smoke test")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render", action="store_true", help="rewrite the markdown and figures from OUT/init_study.json")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.render:
        return render(out)
    t0 = time.perf_counter()
    su = setups(a.quick)
    seeds = list(range(a.seeds))

    def jobs(names, sds):
        return [(k, c.to_dict(), dict(tcd), n, s) for k, (c, tcd) in su.items() for n in names for s in sds]

    runs = []
    from tqdm import tqdm

    with ProcessPoolExecutor(a.workers, initializer=_worker_init) as ex:
        refs = list(ex.map(run_one, jobs([BASELINE], [REF_SEED])))
        fitted = {r["kind"]: fitted_shape(r["params"]) for r in refs}
        todo = jobs(INITS, seeds) + [(k, c.to_dict(),
                                      {**tcd, "init_kw": {"shape": fitted[k][0], "xi": 2.0, "fan": "in"}},
                                      "gg fitted", s) for k, (c, tcd) in su.items() for s in seeds]
        for r in tqdm(ex.map(run_one, todo), total=len(todo), desc="init study", unit="run"):
            runs.append(r)
    for r in refs:
        r.pop("params")
    from rf8lab.reports.markdown import versions as package_versions

    versions = package_versions("rf8lab", "numpy", "scipy", "numba", "matplotlib")
    cmd = "python analysis/init_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    summary = {}
    for kind in su:
        rows, target = summarize(runs, kind)
        summary[kind] = {"rows": rows, "target": target, "fitted_shape": fitted[kind][0],
                         "fitted_per_tensor": fitted[kind][1]}
        plot(runs, kind, out / f"init_study_{kind}.png", target)
    minutes = (time.perf_counter() - t0) / 60
    (out / "init_study.json").write_text(json.dumps(
        {"command": cmd, "versions": versions, "minutes": minutes, "setups": {k: {"model": c.to_dict(), "train": t}
                                                                              for k, (c, t) in su.items()},
         "settings": settings(), "summary": summary, "runs": runs + refs}, indent=1))
    write_markdown(out / "init_study.md", su, summary, cmd, versions, minutes, seeds, settings())
    print(f"wrote {out / 'init_study.md'}, {out / 'init_study.json'} and 2 figures in {minutes:.1f} min")
    return 0


def settings() -> dict:
    """What the page says about how the runs were made (rendered from the JSON)."""
    from rf8lab.nn.train import TrainConfig

    tc = TrainConfig()
    return {"inits": INITS, "baseline": BASELINE, "ref_seed": REF_SEED, "grad_clip": tc.grad_clip,
            "weight_decay": tc.weight_decay, "min_lr_ratio": tc.min_lr_ratio}


def render(out: Path) -> int:
    """Figures and markdown again from the stored runs (no training)."""
    from rf8lab import nn

    d = json.loads((out / "init_study.json").read_text())
    su = {k: (nn.Config.from_dict(v["model"]), v["train"]) for k, v in d["setups"].items()}
    runs = d["runs"]
    seeds = sorted({r["seed"] for r in runs if r["seed"] != REF_SEED})
    summary = {}
    for kind in su:
        rows, target = summarize(runs, kind)
        summary[kind] = {**d["summary"][kind], "rows": rows, "target": target}
        plot(runs, kind, out / f"init_study_{kind}.png", target)
    write_markdown(out / "init_study.md", su, summary, d["command"], d["versions"], d["minutes"], seeds,
                   d["settings"])
    print(f"rewrote {out / 'init_study.md'} and the figures from {out / 'init_study.json'}")
    return 0


def method_sentence(st: dict) -> str:
    gg_xi = sorted({kw["xi"] for m, kw in st["inits"].values() if m == "gg"})
    kaiming = st["inits"].get("kaiming", [None, {}])[1]
    return ("Every init trains the same model with the same budget, learning-rate schedule (AdamW with weight decay "
            f"{st['weight_decay']:g}, warmup + cosine to {st['min_lr_ratio']:g} of the peak, gradient clip "
            f"{st['grad_clip']:g}) and, for a given seed, the same batches, so differences between inits are paired by "
            "seed. GG inits draw every 2-D weight (linear weights and embedding tables) from a generalized Gaussian "
            f"with Var = ξ/fan_in for its shape ν (ξ = {' or '.join(f'{x:g}' for x in gg_xi)}, as named); `kaiming` "
            f"is Var = {kaiming.get('xi', 2):g}/fan_{kaiming.get('fan', 'in')} with a Gaussian, `normal 0.02` is "
            "GPT-2's. `gg fitted` uses the median per-tensor GG shape of a model of the same kind trained from "
            f"`{st['baseline']}` (seed {st['ref_seed']}). Spread is the standard deviation over seeds (paired: of the "
            f"per-seed difference to `{st['baseline']}`). The target loss for 'steps to target' is "
            f"`{st['baseline']}`'s mean final validation loss.")


def reading(summary: dict, seeds) -> list[str]:
    """The conclusions across both models, each decided from the rows (paired, 2 standard errors)."""
    ends, shape, var = [], [], []
    for kind, s in summary.items():
        rows = s["rows"]
        by = {r["init"]: r for r in rows}
        ggs = [r for r in rows if r["init"].startswith("gg")]
        bases = [r for r in rows if not r["init"].startswith("gg")]
        m, sd, word = _cmp(min(ggs, key=lambda r: r["final_mean"]), min(bases, key=lambda r: r["final_mean"]))
        ends.append(f"{kind.upper()}: {word} ({m:+.4f} ± {sd:.4f})")
        if "kaiming" in by:
            words = [_cmp(r, by["kaiming"])[2] for r in ggs if r["init"] not in ("gg nu=2", "gg nu=1 xi=1")]
            shape.append(f"{kind.upper()}: " + ", ".join(f"{words.count(w)} {w}" for w in dict.fromkeys(words)))
        if {"xavier", "kaiming"} <= set(by):
            m, sd, word = _cmp(by["xavier"], by["kaiming"])
            var.append(f"{kind.upper()}: xavier against kaiming {m:+.4f} ± {sd:.4f} ({word})")
    return ["", f"With {len(seeds)} seeds on two small models:",
            "- **GG ends better** (best GG init against the best usual init, final validation loss): "
            + "; ".join(ends) + ".",
            "- **Shape at a fixed variance** (each GG shape against `kaiming`, same 2/fan_in): " + "; ".join(shape)
            + ". `gg nu=2` against `kaiming` (the same distribution, other draws) is the spread to keep in mind.",
            "- **Variance** (Xavier's about 1/fan against Kaiming's 2/fan_in): " + "; ".join(var) + ".",
            "",
            "These are 2-layer models trained for minutes; the claim may depend on scale, which this study cannot "
            "test. Every number above comes from `init_study.json`, made by the command at the top (`--render` "
            "rewrites this page from it)."]


def write_markdown(path, su, summary, cmd, versions, minutes, seeds, st):
    L = ["# Initialization study: GG init against the usual inits", "",
         f"Command: `{cmd}` ({minutes:.1f} min on {platform.machine()}, {len(seeds)} seeds: {seeds}).  ",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "", method_sentence(st), ""]
    for kind, s in summary.items():
        cfg, tc = su[kind]
        L += [f"## {kind.upper()}", "",
              f"Model: {cfg.n_layer} layers, d_model {cfg.d_model}, {cfg.n_head} heads, "
              + (f"context {cfg.block_size} characters of CPython's docs (`pydoc_data.topics`)" if kind == "gpt"
                 else f"patches {cfg.patch_size}x{cfg.patch_size} of sklearn's 8x8 digits (360 held out)")
              + f"; {tc['steps']} steps of batch {tc['batch_size']}, peak lr {tc['lr']}.  ",
              f"Fitted shape for `gg fitted`: ν = {s['fitted_shape']:.3f} (median of "
              + ", ".join(f"{v:.2f}" for v in sorted(s['fitted_per_tensor'].values())) + ").", "",
              f"![{kind}](init_study_{kind}.png)", ""]
        acc = kind == "vit"
        L.append("| init | val loss after first eval | final val loss (mean ± sd) | paired diff vs normal 0.02 | "
                 + ("final accuracy | " if acc else "") + f"steps to {s['target']:.4f} (reached) |")
        L.append("|---|---|---|---|" + ("---|" if acc else "") + "---|")
        for r in sorted(s["rows"], key=lambda r: r["final_mean"]):
            st = (f"{r['steps_mean']:.0f} ({r['reached']}/{len(r['seeds'])})" if np.isfinite(r["steps_mean"])
                  else f"— (0/{len(r['seeds'])})")
            L.append(f"| {r['init']} | {r['first_eval_val_loss']:.3f} | {r['final_mean']:.4f} ± {r['final_sd']:.4f} | "
                     f"{r['paired_diff_mean']:+.4f} ± {r['paired_diff_sd']:.4f} | "
                     + (f"{r['acc_mean']:.4f} ± {r['acc_sd']:.4f} | " if acc else "") + f"{st} |")
        L += ["", *verdict(s["rows"], kind), ""]
    L += ["## Reading", *reading(summary, seeds)]
    Path(path).write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    sys.exit(main())
