"""The pipeline to 8 bits, over seeds: baseline init, GG init, + BackSlash at several lambda,
+ DeepShape and fine-tuning; every model converted to each 8-bit format and evaluated; sizes after
entropy coding; pruning robustness; the papers' claims checked one by one.

    python analysis/pipeline_study.py [--quick] [--seeds 3] [--workers 2] [--out reports]

Writes reports/pipeline.md, reports/pipeline.json and reports/pipeline_*.png.
"""
from __future__ import annotations

import argparse
import json
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
    from rf8lab.methods import pipeline

    kind, seed, steps = args
    t = time.perf_counter()
    r = pipeline.run(kind, seed, lams=LAMS[kind], steps=steps)
    r["seconds"] = time.perf_counter() - t
    return r


def metric_name(kind):
    return "val_acc" if kind == "vit" else "val_loss"


def ms(v):
    v = np.asarray(v, float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if v.size > 1 else f"{v.mean():.4f}"


def sid(rec) -> tuple:
    """A stage's identity in the records: its tag and BackSlash λ (fields, never parsed from the label)."""
    return rec["tag"], rec["lam"]


def column(key: str) -> str:
    """A format column's heading: the spec's label (float32 is the unconverted model)."""
    from rf8lab import QuantSpec

    return key if key == "float32" else QuantSpec.parse(key).label


def short(rec) -> str:
    """A stage's label without its tag."""
    return rec["stage"].split(": ", 1)[1]


def collect(runs, kind):
    """The runs of one kind by seed, the stage records in order, stage -> {format key -> [metric per seed]}
    and stage -> {size -> [per seed]}."""
    rs = sorted([r for r in runs if r["kind"] == kind], key=lambda r: r["seed"])
    m = metric_name(kind)
    stages = [{k: row[k] for k in ("stage", "tag", "lam", "source", "deepshape", "finetuned")}
              for row in rs[0]["results"]]
    met = {sid(s): {} for s in stages}
    size = {sid(s): {} for s in stages}
    for r in rs:
        for row in r["results"]:
            for f, v in row["formats"].items():
                met[sid(row)].setdefault(f, []).append(v[m])
                if "code_bits" in v:
                    size[sid(row)].setdefault((f, "huffman"), []).append(v["code_bits"]["huffman"])
            for k in ("fixed", "exp_golomb", "huffman", "entropy", "zero_fraction"):
                size[sid(row)].setdefault(k, []).append(row["sizes"][k])
    return rs, stages, met, size


def find(stages, tag, lam=None):
    return next(s for s in stages if s["tag"] == tag and (lam is None or s["lam"] == lam))


def backslash_stages(stages):
    return [s for s in stages if s["tag"] == "c"]


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
        x, y = np.array(size[sid(s)]["exp_golomb"]), np.array(met[sid(s)]["float32"])
        ax.errorbar(x.mean(), y.mean(), xerr=x.std(ddof=1), yerr=y.std(ddof=1), fmt="o", capsize=3,
                    label=short(s)[:34])
    ax.set_xlabel(f"bits / weight (exp-Golomb, step 2^{_log2(rs[0]['settings']['code_step'])})")
    ax.set_ylabel(label)
    ax.set_title("accuracy–size (mean ± sd over seeds)")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    ax = axs[1]
    for i, st in enumerate(rs[0]["pruning"]):
        fr = [p["fraction"] for p in st["curve"]]
        y = np.array([[p[m] for p in r["pruning"][i]["curve"]] for r in rs])
        ax.plot(fr, y.mean(0), "o-", label=short(st)[:30])
        ax.fill_between(fr, y.min(0), y.max(0), alpha=0.2)
    ax.set_xlabel("fraction of weights pruned (global magnitude)")
    ax.set_ylabel(label)
    ax.set_title("pruning without fine-tuning (band: min–max)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axs[2]
    for i, rec in enumerate(rs[0]["nu"]):
        for j, r in enumerate(rs):
            h = np.array(r["nu"][i]["history"])
            ax.plot(h[:, 0], h[:, 1], color=f"C{i}", lw=0.8, label=f"{rec['lam']:g}" if j == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("GG shape ν of the weights (pooled)")
    ax.set_title("ν during BackSlash (each seed; legend: λ)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f"pipeline_{kind}.png")
    plt.close(fig)


def paired(runs, kind, stage_a, stage_b, fmt_a="float32", fmt_b="float32"):
    """Per-seed metric difference a - b (stages as records, formats as spec keys)."""
    m = metric_name(kind)
    d = []
    for r in runs:
        if r["kind"] != kind:
            continue
        rows = {sid(row): row for row in r["results"]}
        d.append(rows[sid(stage_a)]["formats"][fmt_a][m] - rows[sid(stage_b)]["formats"][fmt_b][m])
    return np.array(d)


def _log2(step: float) -> int:
    return int(np.log2(step))


def _pct(f: float) -> str:
    return f"{100 * f:g}%"


def _fraction_words(f: float) -> str:
    return {0.25: "a quarter", 0.5: "half", 1 / 3: "a third"}.get(f, f"{f:g}")


def deepshape_rows(stages):
    """(after fine-tuning, before fine-tuning, source) stage records for each DeepShape branch."""
    out = []
    for s in stages:
        if s["deepshape"] and s["finetuned"]:
            before = next(t for t in stages if t["deepshape"] and not t["finetuned"] and t["source"] == s["source"]
                          and t["lam"] == s["lam"])
            out.append((s, before, find(stages, s["source"], s["lam"])))
    return out


CLAIM_SPECS = ("rf8:log:none", "rf8:nearest:tensor", "e4m3:nearest:tensor", "int8:nearest:channel")


def claims(runs, kind) -> list[str]:
    rs, stages, met, size = collect(runs, kind)
    m = metric_name(kind)
    unit = "accuracy" if kind == "vit" else "validation loss"
    name = kind.upper()
    step = f"2^{_log2(rs[0]['settings']['code_step'])}"
    base, ggs = find(stages, "a"), find(stages, "b")
    out = [f"- **BackSlash: 60–90% smaller with little loss** ({name}). Per λ, against the same GG-init model "
           f"trained without BackSlash (same seed), at step {step}:"]
    for s in backslash_stages(stages):
        red = 1 - np.array(size[sid(s)]["exp_golomb"]) / np.array(size[sid(ggs)]["exp_golomb"])
        red_fixed = 1 - np.array(size[sid(s)]["exp_golomb"]) / np.array(size[sid(s)]["fixed"])
        d = paired(runs, kind, s, ggs)
        out.append(f"  - {short(s)}: exp-Golomb size "
                   f"{100 * red.mean():.1f}% ± {100 * red.std(ddof=1):.1f} "
                   f"smaller ({100 * red_fixed.mean():.0f}% below a fixed-length code of its own quantized values); "
                   f"{unit} {d.mean():+.4f} ± {d.std(ddof=1):.4f}.")
    pr = [(st, np.array([[p[m] for p in r["pruning"][i]["curve"]] for r in rs]))
          for i, st in enumerate(rs[0]["pruning"])]
    fr = [p["fraction"] for p in rs[0]["pruning"][0]["curve"]]
    i80 = fr.index(0.8)
    out.append(f"- **Robust to 80% pruning** ({name}), magnitude pruning without fine-tuning, "
               f"{unit} unpruned → 80% pruned "
               "(change): " + "; ".join(f"{short(k)} {v[:, 0].mean():.4f} → {v[:, i80].mean():.4f} "
                                       f"({(v[:, i80] - v[:, 0]).mean():+.4f} ± "
                                       f"{(v[:, i80] - v[:, 0]).std(ddof=1):.4f})"
                                       for k, v in pr) + ".")
    for d_stage, d0_stage, src in deepshape_rows(stages):
        dd, dd0 = paired(runs, kind, d_stage, src), paired(runs, kind, d0_stage, src)
        e_src, e_d0, e_d = (np.array(size[sid(x)]["entropy"]) for x in (src, d0_stage, d_stage))
        out.append(f"- **DeepShape improves compressibility at little loss** ({name}, "
                   f"on {short(src)}): entropy "
                   f"at step {step} {e_src.mean():.2f} → {e_d0.mean():.2f} bits/weight right after DeepShape ({unit} "
                   f"{dd0.mean():+.4f} ± {dd0.std(ddof=1):.4f}) → {e_d.mean():.2f} after fine-tuning ({unit} "
                   f"{dd.mean():+.4f} ± {dd.std(ddof=1):.4f}, both against the model before DeepShape).")
    parts = []
    for s in (base, ggs, backslash_stages(stages)[-1]):
        for f in CLAIM_SPECS:
            d = paired(runs, kind, s, s, f, "float32")
            parts.append(f"({s['tag']}) {column(f)} {d.mean():+.4f} ± {d.std(ddof=1):.4f}")
    out.append(f"- **RF8 without compromising accuracy** ({name}): {unit} change from float32 when every weight "
               "matrix is converted: " + "; ".join(parts) + ".")
    return out


def reading(runs) -> list[str]:
    """The conclusions, each number computed from the runs (so a rerun cannot keep an old conclusion)."""
    kinds = [k for k in ("vit", "gpt") if any(r["kind"] == k for r in runs)]
    bs, prune80, ds, fmt = [], [], [], []
    for kind in kinds:
        rs, stages, met, size = collect(runs, kind)
        m, name = metric_name(kind), kind.upper() if kind == "gpt" else "ViT"
        ggs, cs = find(stages, "b"), backslash_stages(stages)
        red = {s["lam"]: 1 - np.mean(np.array(size[sid(s)]["exp_golomb"]) / np.array(size[sid(ggs)]["exp_golomb"]))
               for s in cs}
        best = max(red, key=red.get)
        d = {s["lam"]: paired(runs, kind, s, ggs) for s in cs}
        worse = {lam: (v.mean() < -2 * v.std(ddof=1)) if kind == "vit" else (v.mean() > 2 * v.std(ddof=1))
                 for lam, v in d.items()}
        safe = [lam for lam in red if not worse[lam]]
        bs.append(f"{name}: at most {100 * red[best]:.0f}%, {'within' if red[best] >= 0.6 else 'short of'} the "
                  f"paper's range (λ = {best:g}, {'accuracy' if kind == 'vit' else 'loss'} "
                  f"{d[best].mean():+.4f} ± {d[best].std(ddof=1):.4f}); the largest saving without a change beyond "
                  f"two standard deviations is " + (f"{100 * max(red[lam] for lam in safe):.0f}%" if safe else "none"))
        pr = [(st, np.array([[p[m] for p in r["pruning"][i]["curve"]] for r in rs]))
              for i, st in enumerate(rs[0]["pruning"])]
        i80 = [p["fraction"] for p in rs[0]["pruning"][0]["curve"]].index(0.8)
        ch = {sid(st): (v[:, i80] - v[:, 0]).mean() for st, v in pr}
        big = sid(max(cs, key=lambda s: s["lam"]))
        normal = [ch[sid(find(stages, t))] for t in ("a", "b")]
        prune80.append(f"{name}: {ch[big]:+.3f} after BackSlash λ = {big[1]:g} against {min(normal, key=abs):+.3f} "
                       f"to {max(normal, key=abs):+.3f} for the models trained without it")
        for after, before, src in deepshape_rows(stages):
            e = [np.mean(size[sid(x)]["entropy"]) for x in (src, before, after)]
            ds.append(f"{name}, on {short(src)}: {e[0]:.2f} → {e[1]:.2f} bits right after DeepShape → {e[2]:.2f} "
                      "after fine-tuning")
        stage_list = [find(stages, "a"), ggs, cs[-1]]
        for key in CLAIM_SPECS:
            v = [paired(runs, kind, s, s, key, "float32").mean() for s in stage_list]
            fmt.append((name, column(key), min(v), max(v)))
    lines = ["- **BackSlash**, exp-Golomb size at the coding step against the same GG-init model trained without "
             "it (the paper: 60–90% smaller with little loss): " + "; ".join(bs) + ".",
             "- **Pruning 80% of the weights without fine-tuning**, change of the metric: " + "; ".join(prune80) + ".",
             "- **DeepShape**, entropy per weight at the coding step (before → after): " + "; ".join(ds) + ".",
             "- **Formats**, change from float32 over stages (a), (b) and the largest-λ (c), smallest to largest mean: "
             + "; ".join(f"{k} {c} {lo:+.4f} to {hi:+.4f}" for k, c, lo, hi in fmt) + "."]
    return lines


def method_sentence(s: dict, lams: dict) -> str:
    """How the stages were made, from the settings the runs recorded."""
    ds = s["deepshape"]
    return ("Stages, each trained from scratch with the same seed, batches and budget: (a) GPT-2's normal(0.02) init; "
            f"(b) GG init ν = {s['gg_shape']:g}, Var = {s['gg_xi']:g}/fan_in; (c) GG init + BackSlash (the rate term "
            "added to the loss, ν re-estimated every step by the moment ratio, pooled over all weight matrices, soft "
            f"clip ε = {s['backslash_eps']:g}; λ ∈ {tuple(lams['gpt'])} for the GPT, {tuple(lams['vit'])} for the "
            f"ViT) for the first {_pct(s['backslash_frac'])} of the steps, then ordinary training; (d0) DeepShape "
            f"(step 2^{_log2(ds['step'])}, core = levels holding more than {ds['core_frac']:g} of the weights, "
            f"target GG(μ, {ds['a']:g}ν, {ds['b']:g}α), pooled) on a (c) model, (d) the same after fine-tuning for "
            f"{_fraction_words(s['finetune_frac'])} of the budget at {_fraction_words(s['finetune_lr_factor'])} of "
            "the learning rate; (e0, e) the same on the (b) model. Formats convert every 2-D weight (gains and "
            "biases, about 2% of the parameters, stay float32). Sizes code the 2-D weights on the grid "
            f"2^{_log2(s['code_step'])}: `fixed` is a fixed-length code for the range of their quantized values, "
            "`exp-Golomb` is order 0 on frequency ranks (BackSlash's measure), `Huffman` and `entropy` the optimal "
            "prefix code and the bound. Spread: standard deviation over seeds; differences are paired by seed.")


def write(runs, out: Path, cmd, versions, minutes, seeds, lams):
    lines = ["# The pipeline to 8 bits: GG init, BackSlash, DeepShape, RF8 and the other formats", "",
             f"Command: `{cmd}` ({minutes:.1f} min, seeds {seeds}).  ",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", "",
             method_sentence(runs[0]["settings"], lams), ""]
    for kind in ("gpt", "vit"):
        if not any(r["kind"] == kind for r in runs):
            continue
        rs, stages, met, size = collect(runs, kind)
        step = f"2^{_log2(rs[0]['settings']['code_step'])}"
        unit = ("validation accuracy (higher is better)" if kind == "vit"
                else "validation loss (nats/char, lower is better)")
        lines += [f"## {kind.upper()}", "", f"![{kind}](pipeline_{kind}.png)", "", f"### {unit} by stage and format",
                  ""]
        fmts = list(met[sid(stages[0])])
        lines.append("| stage | " + " | ".join(map(column, fmts)) + " |")
        lines.append("|---|" + "---|" * len(fmts))
        for s in stages:
            lines.append(f"| {s['stage']} | " + " | ".join(ms(met[sid(s)][f]) for f in fmts) + " |")
        coded = [k for k in size[sid(stages[0])] if isinstance(k, tuple)]
        lines += ["", f"### Size of the weight matrices (bits per weight, step {step}) and sparsity", "",
                  "| stage | fixed | exp-Golomb | Huffman | entropy | exp-Golomb vs 8-bit | vs float32 | "
                  "zero fraction | "
                  + " | ".join(f"{column(k)} codes, Huffman" for k, _ in coded) + " |",
                  "|---|---|---|---|---|---|---|---|" + "---|" * len(coded)]
        for s in stages:
            z = size[sid(s)]
            eg = np.array(z["exp_golomb"])
            lines.append(f"| {s['stage']} | {np.mean(z['fixed']):.1f} | {ms(z['exp_golomb'])} | "
                         f"{np.mean(z['huffman']):.2f} | {np.mean(z['entropy']):.2f} | {100 * eg.mean() / 8:.0f}% | "
                         f"{100 * eg.mean() / 32:.0f}% | {np.mean(z['zero_fraction']):.3f} | "
                         + " | ".join(f"{np.mean(z[k]):.2f}" for k in coded) + " |")
        lines += ["", "### The claims, one by one", "", *claims(runs, kind), ""]
    lines += ["## Reading", "", *reading(runs), "",
              "These are small models trained for minutes on 2 cores; every number above is in `pipeline.json`, "
              "made by the command at the top (`--render` rewrites this page from it)."]
    Path(out / "pipeline.md").write_text("\n".join(lines) + "\n")


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
        write(d["runs"], out, d["command"], d["versions"], d["minutes"], sorted({r["seed"] for r in d["runs"]}),
              d["lams"])
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
    from rf8lab.reports.markdown import versions as package_versions

    versions = package_versions("rf8lab", "numpy", "scipy", "numba", "matplotlib")
    cmd = "python analysis/pipeline_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for kind in ("gpt", "vit"):
        plots(runs, kind, out)
    (out / "pipeline.json").write_text(json.dumps({"command": cmd, "versions": versions, "minutes": minutes,
                                                  "lams": LAMS, "runs": runs}, indent=1))
    write(runs, out, cmd, versions, minutes, seeds, LAMS)
    print(f"wrote {out / 'pipeline.md'}, {out / 'pipeline.json'} and 2 figures in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
