"""The pipeline to 8 bits, over seeds: baseline init, GG init, + BackSlash at several lambda,
+ DeepShape and fine-tuning; every model converted to each 8-bit format and evaluated; sizes after
entropy coding; pruning robustness; the papers' claims checked one by one.

    python analysis/pipeline_study.py [--quick] [--seeds 3] [--workers 2] [--out reports]

Writes reports/pipeline.md, reports/pipeline.json and reports/pipeline_*.png.
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

# BackSlash lambdas: the GPT's character loss reacts to much smaller lambdas than the ViT's
LAMS = {"gpt": (0.3, 1.0, 3.0, 10.0), "vit": (10.0, 100.0, 1000.0, 10000.0)}


def _worker_init():
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def job(args):
    from rf8lab.nn import pipeline as P

    kind, seed, steps = args
    t = time.perf_counter()
    r = P.run(kind, seed, lams=LAMS[kind], steps=steps)
    r["seconds"] = time.perf_counter() - t
    return r


def metric_name(kind):
    return "val_acc" if kind == "vit" else "val_loss"


def ms(v):
    v = np.asarray(v, float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if v.size > 1 else f"{v.mean():.4f}"


def collect(runs, kind):
    """stage -> {format -> [metric per seed]}, stage -> sizes lists, ordered stages."""
    rs = sorted([r for r in runs if r["kind"] == kind], key=lambda r: r["seed"])
    m = metric_name(kind)
    stages = [row["stage"] for row in rs[0]["results"]]
    met = {s: {} for s in stages}
    size = {s: {} for s in stages}
    for r in rs:
        for row in r["results"]:
            for f, v in row["formats"].items():
                met[row["stage"]].setdefault(f, []).append(v[m])
                if "code_bits" in v:
                    size[row["stage"]].setdefault(f"{f} codes huffman", []).append(v["code_bits"]["huffman"])
            for k in ("fixed", "exp_golomb", "huffman", "entropy", "zero_fraction"):
                size[row["stage"]].setdefault(k, []).append(row["sizes"][k])
    return rs, stages, met, size


def plots(runs, kind, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs, stages, met, size = collect(runs, kind)
    m = metric_name(kind)
    label = "validation accuracy" if kind == "vit" else "validation loss"
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.8), dpi=80)
    ax = axs[0]
    for s in stages:
        x, y = np.array(size[s]["exp_golomb"]), np.array(met[s]["float32"])
        ax.errorbar(x.mean(), y.mean(), xerr=x.std(ddof=1), yerr=y.std(ddof=1), fmt="o", capsize=3,
                    label=s.split(":")[1].strip()[:34])
    ax.set_xlabel("bits / weight (exp-Golomb, step 2^-10)")
    ax.set_ylabel(label)
    ax.set_title("accuracy–size (mean ± sd over seeds)")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    ax = axs[1]
    for st, vals in rs[0]["pruning"].items():
        fr = [p["fraction"] for p in vals]
        y = np.array([[p[m] for p in r["pruning"][st]] for r in rs])
        ax.plot(fr, y.mean(0), "o-", label=st.split(":")[1].strip()[:30])
        ax.fill_between(fr, y.min(0), y.max(0), alpha=0.2)
    ax.set_xlabel("fraction of weights pruned (global magnitude)")
    ax.set_ylabel(label)
    ax.set_title("pruning without fine-tuning (band: min–max)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axs[2]
    for st in rs[0]["nu"]:
        for j, r in enumerate(rs):
            h = np.array(r["nu"][st])
            ax.plot(h[:, 0], h[:, 1], color=f"C{list(rs[0]['nu']).index(st)}", lw=0.8,
                    label=st.split("lambda=")[1] if j == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("GG shape ν of the weights (pooled)")
    ax.set_title("ν during BackSlash (each seed; legend: λ)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f"pipeline_{kind}.png")
    plt.close(fig)


def paired(runs, kind, stage_a, stage_b, fmt_a="float32", fmt_b="float32"):
    """Per-seed metric difference a - b."""
    m = metric_name(kind)
    d = []
    for r in runs:
        if r["kind"] != kind:
            continue
        rows = {row["stage"]: row for row in r["results"]}
        d.append(rows[stage_a]["formats"][fmt_a][m] - rows[stage_b]["formats"][fmt_b][m])
    return np.array(d)


def claims(runs, kind) -> list[str]:
    rs, stages, met, size = collect(runs, kind)
    m = metric_name(kind)
    unit = "accuracy" if kind == "vit" else "validation loss"
    K = kind.upper()
    st = lambda prefix: next(s for s in stages if s.startswith(prefix))  # noqa: E731
    base, ggs = st("a:"), st("b:")
    out = [f"- **BackSlash: 60–90% smaller with little loss** ({K}). Per λ, against the same GG-init model trained "
           f"without BackSlash (same seed), at step 2^-10:"]
    for s in [s for s in stages if s.startswith("c:")]:
        red = 1 - np.array(size[s]["exp_golomb"]) / np.array(size[ggs]["exp_golomb"])
        red_fixed = 1 - np.array(size[s]["exp_golomb"]) / np.array(size[s]["fixed"])
        d = paired(runs, kind, s, ggs)
        out.append(f"  - {s.split(':')[1].strip()}: exp-Golomb size "
                   f"{100 * red.mean():.1f}% ± {100 * red.std(ddof=1):.1f} "
                   f"smaller ({100 * red_fixed.mean():.0f}% below a fixed-length code of its own quantized values); "
                   f"{unit} {d.mean():+.4f} ± {d.std(ddof=1):.4f}.")
    pr = {k: np.array([[p[m] for p in r["pruning"][k]] for r in rs]) for k in rs[0]["pruning"]}
    fr = [p["fraction"] for p in rs[0]["pruning"][base]]
    i80 = fr.index(0.8)
    out.append(f"- **Robust to 80% pruning** ({K}), magnitude pruning without fine-tuning, "
               f"{unit} unpruned → 80% pruned "
               "(change): " + "; ".join(f"{k.split(':')[1].strip()} {v[:, 0].mean():.4f} → {v[:, i80].mean():.4f} "
                                       f"({(v[:, i80] - v[:, 0]).mean():+.4f} ± "
                                       f"{(v[:, i80] - v[:, 0]).std(ddof=1):.4f})"
                                       for k, v in pr.items()) + ".")
    for tag in ("d", "e"):
        d_stage, d0_stage = st(f"{tag}:"), st(f"{tag}0:")
        src = next(s for s in stages if s[3:] == d_stage[3:].replace(" + DeepShape + fine-tune", ""))
        dd, dd0 = paired(runs, kind, d_stage, src), paired(runs, kind, d0_stage, src)
        e_src, e_d0, e_d = (np.array(size[x]["entropy"]) for x in (src, d0_stage, d_stage))
        out.append(f"- **DeepShape improves compressibility at little loss** ({K}, "
                   f"on {src.split(':')[1].strip()}): entropy "
                   f"at step 2^-10 {e_src.mean():.2f} → {e_d0.mean():.2f} bits/weight right after DeepShape ({unit} "
                   f"{dd0.mean():+.4f} ± {dd0.std(ddof=1):.4f}) → {e_d.mean():.2f} after fine-tuning ({unit} "
                   f"{dd.mean():+.4f} ± {dd.std(ddof=1):.4f}, both against the model before DeepShape).")
    parts = []
    for s in (base, ggs, [s for s in stages if s.startswith("c:")][-1]):
        for f in ("rf8 log, unscaled", "rf8 nearest, per tensor", "e4m3, per tensor", "int8, per channel"):
            d = paired(runs, kind, s, s, f, "float32")
            parts.append(f"({s.split(':')[0]}) {f} {d.mean():+.4f} ± {d.std(ddof=1):.4f}")
    out.append(f"- **RF8 without compromising accuracy** ({K}): {unit} change from float32 when every weight matrix is "
               "converted: " + "; ".join(parts) + ".")
    return out


def write(runs, out: Path, cmd, versions, minutes, seeds):
    L = ["# The pipeline to 8 bits: GG init, BackSlash, DeepShape, RF8 and the other formats", "",
         f"Command: `{cmd}` ({minutes:.1f} min, seeds {seeds}).  ",
         "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
         "Stages, each trained from scratch with the same seed, batches and budget: (a) GPT-2's normal(0.02) init; "
         "(b) GG init ν = 1, Var = 2/fan_in; (c) GG init + BackSlash (the rate term added to the loss, ν re-estimated "
         "every step by the moment ratio, pooled over all weight matrices, soft clip ε = 1e-3; "
         f"λ ∈ {LAMS['gpt']} for the "
         f"GPT, {LAMS['vit']} for the ViT) for the first 60% of the steps, then ordinary training; (d0) DeepShape "
         "(step 2^-13, core = levels holding more than 1e-4 of the weights, target GG(μ, 0.8ν, 0.6α), pooled) on a (c) "
         "model, (d) the same after fine-tuning for a quarter of the budget at a third of the learning rate; (e0, e) "
         "the same on the (b) model. Formats convert every 2-D weight (gains and biases, about 2% of "
         "the parameters, stay float32). Sizes code the 2-D weights on the grid 2^-10: `fixed` is a fixed-length code "
         "for the range of their quantized values, `exp-Golomb` is order 0 on frequency ranks (BackSlash's measure), "
         "`Huffman` and `entropy` the optimal prefix code and the bound. Spread: standard deviation over seeds; "
         "differences are paired by seed.", ""]
    for kind in ("gpt", "vit"):
        if not any(r["kind"] == kind for r in runs):
            continue
        rs, stages, met, size = collect(runs, kind)
        unit = ("validation accuracy (higher is better)" if kind == "vit"
                else "validation loss (nats/char, lower is better)")
        L += [f"## {kind.upper()}", "", f"![{kind}](pipeline_{kind}.png)", "", f"### {unit} by stage and format", ""]
        fmts = list(met[stages[0]])
        L.append("| stage | " + " | ".join(fmts) + " |")
        L.append("|---|" + "---|" * len(fmts))
        for s in stages:
            L.append(f"| {s} | " + " | ".join(ms(met[s][f]) for f in fmts) + " |")
        L += ["", "### Size of the weight matrices (bits per weight, step 2^-10) and sparsity", "",
              "| stage | fixed | exp-Golomb | Huffman | entropy | exp-Golomb vs 8-bit | vs float32 | zero fraction | "
              "RF8 log codes, Huffman | RF8 nearest codes, Huffman |", "|---|---|---|---|---|---|---|---|---|---|"]
        for s in stages:
            z = size[s]
            eg = np.array(z["exp_golomb"])
            L.append(f"| {s} | {np.mean(z['fixed']):.1f} | {ms(z['exp_golomb'])} | {np.mean(z['huffman']):.2f} | "
                     f"{np.mean(z['entropy']):.2f} | {100 * eg.mean() / 8:.0f}% | {100 * eg.mean() / 32:.0f}% | "
                     f"{np.mean(z['zero_fraction']):.3f} | {np.mean(z['rf8 log, unscaled codes huffman']):.2f} | "
                     f"{np.mean(z['rf8 nearest, per tensor codes huffman']):.2f} |")
        L += ["", "### The claims, one by one", "", *claims(runs, kind), ""]
    L += ["## Reading", "",
          "- **BackSlash shrinks the code, but not by 60–90% here.** Against the same GG-init model trained normally, "
          "the exp-Golomb size at step 2^-10 falls by up to about 55% (ViT) and 40% (GPT). On the ViT that comes "
          "with no clear accuracy loss up to λ = 1000 (the largest λ costs about 3 points); on the character GPT, "
          "every λ that saves more than 15% costs validation loss (λ = 10: about +0.32 nats/char). Against a "
          "fixed-length code of the same quantized values the saving is about 50% (ViT) and 27% (GPT).",
          "- **Pruning robustness holds.** After BackSlash with a large λ, pruning 80% of the weights without "
          "fine-tuning costs almost nothing (ViT: about −1 point; GPT: +0.15 nats), where the normally trained "
          "models collapse (ViT: −38 points; GPT: +1.6 nats or more). The BackSlash models start from a worse loss on "
          "the GPT, so the robustness is bought.",
          "- **DeepShape** lowers the entropy of a normally trained model by about 0.45 bit per weight at step 2^-10; "
          "the loss it causes is recovered by fine-tuning, "
          "which keeps most of the saving. On a BackSlash model it gains little (0.04–0.16 bit) and fine-tuning "
          "gives it back: those weights are already far more peaked than DeepShape's target.",
          "- **RF8** costs little at the output of these models (ViT: within a point of float32 for nearest "
          "rounding; GPT: +0.006 to +0.024 nats/char), about as much as E4M3, and more than INT8 per channel. The "
          "paper's unscaled RF8 with log rounding does worst, especially after BackSlash on the ViT (−3 points): "
          "without a scale it cannot go above 1.5 or below 0.75·2^-15, and with a per-tensor scale (`rf8 nearest, "
          "per tensor`) the same model loses nothing measurable.",
          "", "These are small models trained for minutes on 2 cores; every number above is in `pipeline.json`, "
          "made by the command at the top (`--render` rewrites this page from it)."]
    Path(out / "pipeline.md").write_text("\n".join(L) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the steps, 2 seeds (a smoke test)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render", action="store_true", help="rewrite the markdown and figures from OUT/pipeline.json")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.render:
        d = json.loads((out / "pipeline.json").read_text())
        for kind in ("gpt", "vit"):
            plots(d["runs"], kind, out)
        write(d["runs"], out, d["command"], d["versions"], d["minutes"], sorted({r["seed"] for r in d["runs"]}))
        print(f"rewrote {out / 'pipeline.md'} from {out / 'pipeline.json'}")
        return 0
    seeds = list(range(2 if a.quick else a.seeds))
    steps = {"gpt": 80 if a.quick else None, "vit": 60 if a.quick else None}
    jobs = [(k, s, steps[k]) for k in ("gpt", "vit") for s in seeds]
    t0 = time.perf_counter()
    from tqdm import tqdm

    with ProcessPoolExecutor(a.workers, initializer=_worker_init) as ex:
        runs = list(tqdm(ex.map(job, jobs), total=len(jobs), desc="pipeline study", unit="run"))
    minutes = (time.perf_counter() - t0) / 60
    import matplotlib
    import numba
    import scipy

    import rf8lab

    versions = {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                "numba": numba.__version__, "matplotlib": matplotlib.__version__, "rf8lab": rf8lab.__version__}
    cmd = "python analysis/pipeline_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for kind in ("gpt", "vit"):
        plots(runs, kind, out)
    (out / "pipeline.json").write_text(json.dumps({"command": cmd, "versions": versions, "minutes": minutes,
                                                  "lams": LAMS, "runs": runs}, indent=1))
    write(runs, out, cmd, versions, minutes, seeds)
    print(f"wrote {out / 'pipeline.md'}, {out / 'pipeline.json'} and 2 figures in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
