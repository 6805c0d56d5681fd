"""`rf8lab fit CHECKPOINT`: fit GG and its rivals to every tensor and write a report.

Writes report.md, fits.csv, fits.json and PNGs (histograms on linear and log scales with the four
fitted densities, Q-Q plots against the GG fit, the GG shape along depth; of at most a million values
a tensor). The GG fit uses every nonzero value of a tensor; the four-model comparison uses at most
`max_compare` values (a fixed random sample for larger tensors, so that the Student-t fit stays fast),
as the tables say. 16- and 8-bit float tensors are read through their exact histogram (one bincount of
their bit patterns): fitted and compared on every value, with no float64 copy of them.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import gg
from ..io import checkpoints
from ..io.names import TYPES, layer_index, tensor_type
from .markdown import md_table, versions, versions_line

MODELS = ["gg", "gaussian", "laplace", "student_t"]
COLORS = {"gg": "C3", "gaussian": "C0", "laplace": "C2", "student_t": "C1"}


def analyze(name: str, arr: np.ndarray, max_compare: int, seed: int) -> dict:
    kind = tensor_type(name)
    hist = gg.distinct(np.asarray(arr)) if kind != "norm" else None
    if hist is not None:  # 16- and 8-bit floats: everything from the exact histogram, no float64 copy
        return _analyze_histogram(name, kind, arr, *hist)
    x = np.asarray(arr).astype(np.float64).ravel()
    try:
        # norm gains sit around 1, not 0: their location is fitted, everything else is centred at 0
        fit = gg.fit(x, loc=None if kind == "norm" else 0.0)
    except ValueError as e:  # e.g. an all-zero bias: listed, not fitted
        return _not_fitted(name, kind, arr, x.size, int((x == 0).sum()), e)
    nz = x[x != fit.loc]
    sample = nz if nz.size <= max_compare else np.random.default_rng(seed).choice(nz, max_compare, replace=False)
    sd = x.std()
    return _row(name, kind, arr, fit, sample, x.size, int(np.unique(x).size),
                int((np.abs(x) > 10 * sd).sum()) if sd > 0 else 0, float(sd))


def _analyze_histogram(name, kind, arr, values, counts) -> dict:
    """analyze() for a low-precision tensor from its distinct values and their counts (its exact histogram):
    the GG fit and the four-model comparison use every value, whatever max_compare says, in one pass over
    at most 65,536 distinct values."""
    n = int(counts.sum())
    finite = np.isfinite(values)
    zeros = int(counts[values == 0].sum())
    try:
        fit = gg.fit(arr, loc=0.0)
    except ValueError as e:
        return _not_fitted(name, kind, arr, n, zeros, e)
    v, c = values[finite], counts[finite]
    mean = float((v * c).sum() / c.sum())
    sd = float(np.sqrt((c * (v - mean) ** 2).sum() / c.sum()))
    outliers = int(counts[finite][np.abs(values[finite]) > 10 * sd].sum()) if sd > 0 else 0
    return _row(name, kind, arr, fit, (values, counts), n, int(values.size), outliers, sd)


def _not_fitted(name, kind, arr, n: int, zeros: int, error) -> dict:
    return {"name": name, "type": kind, "layer": layer_index(name), "shape": list(arr.shape), "n": int(n),
            "zeros": zeros, "zero_fraction": zeros / n if n else 0.0, "error": str(error)}


def _row(name, kind, arr, fit, sample, n: int, distinct: int, outliers: int, sd: float) -> dict:
    """The report's row; `sample` is the values compared, or (values, counts) of a histogram."""
    values, counts = sample if isinstance(sample, tuple) else (sample, None)
    cmp = gg.compare(values, loc=fit.loc, counts=counts).set_index("model")
    row = {"name": name, "type": kind, "loc": fit.loc, "layer": layer_index(name), "shape": list(arr.shape),
           "n": int(n), "zeros": int(fit.n_zero), "zero_fraction": fit.zero_fraction,
           "distinct": distinct, "outliers_10sd": outliers,
           "std": float(sd), "gg_shape": fit.shape, "gg_shape_se": fit.shape_se, "gg_shape_ci_lo": fit.shape_ci[0],
           "gg_shape_ci_hi": fit.shape_ci[1], "gg_scale": fit.scale, "gg_loglik": fit.loglik,
           "best": cmp.index[0], "n_compared": int(cmp["n"].iloc[0])}
    for m in MODELS:
        row[f"{m}_d_aic"] = float(cmp.loc[m, "d_aic"])
        row[f"{m}_weight"] = float(cmp.loc[m, "akaike_weight"])
        row[f"{m}_ks"] = float(cmp.loc[m, "ks"])
        row[f"{m}_kl"] = float(cmp.loc[m, "kl"])
        row[f"{m}_params"] = cmp.loc[m, "params"]
    return row


def _densities(row):
    from scipy import stats
    p, mu = {m: row[f"{m}_params"] for m in MODELS}, row["loc"]
    return {"gg": stats.gennorm(p["gg"]["shape"], mu, p["gg"]["scale"]),
            "gaussian": stats.norm(mu, p["gaussian"]["sigma"]), "laplace": stats.laplace(mu, p["laplace"]["b"]),
            "student_t": stats.t(p["student_t"]["df"], mu, p["student_t"]["scale"])}


PLOTTED = 1_000_000  # values per histogram and Q-Q plot at most: a random sample of larger tensors


def _plotted(arr, seed: int = 0) -> np.ndarray:
    """The float64 values a figure draws: all of a small tensor, else PLOTTED drawn at random positions
    (with replacement: no permutation of a large tensor's indices, no float copy of all of it)."""
    flat = np.asarray(arr).reshape(-1)
    if flat.size > PLOTTED:
        flat = flat[np.random.default_rng(seed).integers(0, flat.size, PLOTTED)]
    return flat.astype(np.float64)


def _type_figure(rows, arrays, path: Path):
    """Up to 6 tensors of one type: histogram (linear), histogram (log y), Q-Q against the GG fit."""
    import matplotlib.pyplot as plt
    pick = rows if len(rows) <= 6 else [rows[i] for i in np.linspace(0, len(rows) - 1, 6).astype(int)]
    fig, axes = plt.subplots(3, len(pick), figsize=(2.6 * len(pick), 6.6), squeeze=False)
    for j, row in enumerate(pick):
        x = _plotted(arrays[row["name"]])
        x = x[x != row["loc"]]
        lo, hi = np.quantile(x, [0.0005, 0.9995])
        grid = np.linspace(lo, hi, 400)
        dens = _densities(row)
        for i, logy in enumerate((False, True)):
            ax = axes[i, j]
            ax.hist(x, bins=120, range=(lo, hi), density=True, color="0.75")
            for m, d in dens.items():
                ax.plot(grid, d.pdf(grid), color=COLORS[m], lw=1, label=m)
            if logy:
                ax.set_yscale("log")
            ax.tick_params(labelsize=6)
        axes[0, j].set_title(f"{row['name'].replace('encoder.', '')[-38:]}\nGG nu={row['gg_shape']:.2f}", fontsize=6)
        q = np.linspace(0.001, 0.999, 400)
        ax = axes[2, j]
        ax.plot(dens["gg"].ppf(q), np.quantile(x, q), ".", ms=2, color="C3")
        ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8)
        ax.set_xlabel("GG quantile", fontsize=6)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    axes[0, 0].set_ylabel("density", fontsize=7)
    axes[1, 0].set_ylabel("density (log)", fontsize=7)
    axes[2, 0].set_ylabel("data quantile", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def _depth_figure(df: pd.DataFrame, path: Path):
    """GG shape by layer with 95% intervals: weight matrices on the left, norms and biases right."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    groups = (TYPES[1:7], ["norm", "bias"])
    for ax, types in zip(axes, groups):
        types = [t for t in types if t in set(df.type) and df[df.type == t].layer.notna().any()]
        for k, t in enumerate(types):
            d = df[(df.type == t) & df.layer.notna()]
            off = (k - len(types) / 2) * 0.08
            ax.errorbar(d.layer + off, d.gg_shape, yerr=1.96 * d.gg_shape_se, fmt="o", ms=3, capsize=2, label=t)
        ax.axhline(2, color="0.5", lw=0.8, ls="--", label="Gaussian (2)")
        ax.axhline(1, color="0.5", lw=0.8, ls=":", label="Laplace (1)")
        ax.set_xlabel("layer")
        ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("GG shape nu (95% CI)")
    axes[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _summary(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    rows, lines = [], []
    for t in [t for t in TYPES if t in set(df.type)]:
        d = df[df.type == t]
        wins = d.best.value_counts()
        rows.append({"type": t, "tensors": len(d), **{f"best: {m}": int(wins.get(m, 0)) for m in MODELS},
                     "median GG shape": d.gg_shape.median(),
                     "median dAIC Gaussian vs best": d.gaussian_d_aic.median(),
                     "median dAIC GG vs best": d.gg_d_aic.median(),
                     "median dAIC Student-t vs best": d.student_t_d_aic.median()})
        top = wins.index[0]
        runner = d[[f"{m}_d_aic" for m in MODELS if m != top]].median().sort_values()
        second = runner.index[0].replace("_d_aic", "")
        lines.append(f"- **{t}** ({len(d)} tensors): {top} fits best in {wins.iloc[0]} of {len(d)}; the next best "
                     f"model is {second}, median {runner.iloc[0]:.0f} AIC units behind. Median GG shape "
                     f"{d.gg_shape.median():.2f} (range {d.gg_shape.min():.2f}-{d.gg_shape.max():.2f}); "
                     f"the Gaussian is a median {d.gaussian_d_aic.median():.0f} AIC units behind the best.")
    return pd.DataFrame(rows), lines


def write_report(source, out_dir, tensors=None, max_compare: int = 1_000_000, workers: int = 2,
                 seed: int = 0, progress: bool = True, command: str | None = None) -> Path:
    out = Path(out_dir)
    arrays = {k: v for k, v in checkpoints.load(source, tensors).items()
              if np.asarray(v).dtype.kind in "fV" and np.asarray(v).size >= 8}
    if not arrays:
        raise checkpoints.CheckpointError(f"{source}: no floating-point tensor with at least 8 values to fit")
    checkpoint = checkpoints.describe(source)
    out.mkdir(parents=True, exist_ok=True)  # only once the checkpoint reads: a refused one leaves no folder
    names = list(arrays)
    results = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futs = {pool.submit(analyze, k, arrays[k], max_compare, seed): k for k in names}
        for fut in tqdm(futs, total=len(futs), desc="fitting tensors", unit="tensor", disable=not progress):
            results[futs[fut]] = fut.result()
    skipped = [results[k] for k in names if "error" in results[k]]
    rows = [results[k] for k in names if "error" not in results[k]]
    if not rows:
        raise checkpoints.CheckpointError(f"{source}: no tensor could be fitted: "
                                          + "; ".join(f"{r['name']} ({r['error']})" for r in skipped[:3]))
    for t in sorted({r["type"] for r in rows}, key=TYPES.index):  # histograms need the data: drawn now
        _type_figure([r for r in rows if r["type"] == t], arrays, out / _hist_name(t))
    run = {"command": command or f"rf8lab fit {source}", "source": str(source),
           "checkpoint": checkpoint,
           "made": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
           "versions": versions("rf8lab", "numpy", "scipy", "pandas", "matplotlib"), "seed": seed,
           "max_compare": max_compare, "tensors": rows, "skipped": skipped,
           "dequantized": {k: v for k, v in checkpoints.dequantized(source).items() if k in arrays}}
    (out / "fits.json").write_text(json.dumps(run, indent=1, default=float))
    return render(out)


def _hist_name(t: str) -> str:
    return f"hist_{t.replace(' ', '_').lower()}.png"


def render(out_dir) -> Path:
    """fits.csv, the depth figure and report.md from fits.json (no fitting)."""
    out = Path(out_dir)
    run = json.loads((out / "fits.json").read_text())
    df = pd.DataFrame(run["tensors"])
    df.drop(columns=[f"{m}_params" for m in MODELS]).to_csv(out / "fits.csv", index=False)
    figs = [(t, _hist_name(t)) for t in TYPES if t in set(df.type)]
    _depth_figure(df, out / "shape_by_depth.png")
    summary, lines = _summary(df)
    _write_md(out, run, df, summary, lines, figs)
    return out / "report.md"


def _write_md(out, run, df, summary, lines, figs):
    source, ck, skipped, max_compare = run["source"], run["checkpoint"], run["skipped"], run["max_compare"]
    n_all = len(df)
    gg_best = int((df.best == "gg").sum())
    t_best = int((df.best == "student_t").sum())
    gauss_rejected = int((df.gaussian_d_aic > 10).sum())
    gg_over_gauss = int((df.gaussian_d_aic - df.gg_d_aic > 10).sum())
    table = df[["name", "type", "n", "zero_fraction", "gg_shape", "gg_shape_se", "best", "gaussian_d_aic",
                "laplace_d_aic", "gg_d_aic", "student_t_d_aic", "gg_kl", "student_t_kl", "n_compared"]]
    md = [f"# GG fits of {source}", "",
          f"Command: `{run['command']}`  ",
          f"Checkpoint: `{ck['name']}`, {ck['bytes']:,} bytes"
          + (f" in {len(ck['files'])} files, SHA-256 of their sha256sum listing" if "files" in ck else ", SHA-256")
          + f" `{ck['sha256']}`  ",
          f"Made {run['made']} with {versions_line(run['versions'])}; comparison sample seed {run['seed']}.",
          "",
          "Each tensor's nonzero values are fitted by maximum likelihood with the location fixed at 0 (for "
          "norm gains, which sit around 1, the GG's fitted location is used for every model): a "
          "generalized Gaussian (GG, shape nu: 2 is Gaussian, 1 Laplace), a Gaussian, a Laplace and a "
          f"Student-t. Models are ranked by AIC on at most {max_compare:,} values per tensor (a fixed random "
          "sample of larger tensors); dAIC is a model's AIC minus the best one's, so 0 marks the winner and "
          "more than 10 is decisive. p-values are not used: at these sample sizes every test rejects every model.",
          *(["Not fitted: " + "; ".join(f"`{r['name']}` ({r['error']})" for r in skipped) + ".", ""]
            if skipped else []),
          *(["Stored quantized, fitted after the gguf package dequantized them (their statistics are those of "
             "the quantized grid, not of the original weights): "
             + "; ".join(f"`{k}` ({v})" for k, v in run["dequantized"].items()) + ".", ""]
            if run.get("dequantized") else []),
          "## What the data say", "",
          f"Across {n_all} tensors, the GG is the best of the four models for {gg_best} and the Student-t for "
          f"{t_best}. The GG beats the Gaussian by more than 10 AIC units in {gg_over_gauss} of {n_all} tensors, "
          f"and the Gaussian is decisively behind the best model in {gauss_rejected} of {n_all}.",
          "", *lines, "",
          "On the claim that trained weights follow a generalized Gaussian rather than a Gaussian: " +
          ("it holds here for most tensors in the sense that the GG is far more likely than the Gaussian, "
           if gg_over_gauss > n_all / 2 else "it does not hold here for most tensors: ") +
          (f"but a heavier-tailed Student-t is the better description for {t_best} of {n_all} tensors, so 'GG' "
           "is not the whole story." if t_best else "and no rival does better."),
          "", "## By tensor type", "", md_table(summary, 3), "",
          "## GG shape along depth", "", "![GG shape by layer](shape_by_depth.png)", "",
          "## Histograms and Q-Q plots", "",
          "Up to six tensors per type (evenly spaced through the model); rows: density on a linear scale, on a "
          "log scale, and data quantiles against the fitted GG's.", ""]
    for t, f in figs:
        md += [f"### {t}", "", f"![{t}]({f})", ""]
    md += ["## Every tensor", "", md_table(table, 4), "",
           "Data hygiene (zero fraction, distinct values, values beyond 10 standard deviations) is in fits.csv."]
    (out / "report.md").write_text("\n".join(md) + "\n")
