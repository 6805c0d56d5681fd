"""The format comparison study: RF8 against E4M3, E5M2, INT8, the MX formats and NVFP4, and the limits.

1. SQNR and maximum relative error against the GG shape (synthetic, 10^6 values at std 0.02), with
   the MSE-optimal 256-level quantizer (Lloyd-Max) and the 8-bit rate-distortion bound;
2. the same on every tensor of all-MiniLM-L6-v2;
3. MiniLM end to end: sentence embeddings with every weight matrix in each format, against float32
   (cosine similarity, agreement of the nearest neighbours) over real sentences;
4. bits per weight after entropy coding each format's codes;
5. at equal storage (bits per value with the scales): SQNR against bits per value for the 8-, 6- and 4-bit
   families on the GG sweep (three seeds) and on MiniLM, with the Lloyd-Max and rate-distortion limits at
   each rate (rf8lab/reports/rates.py), and which format is best per bit for which shape.

`python analysis/format_study.py [--quick]` (or `rf8lab demo`) writes reports/format_comparison.md,
reports/format_comparison.json and PNGs.
"""
from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import numpy as np

from ..codec import api
from ..codec.spec import QuantSpec
from ..gg import gg
from ..gg.limits import lloyd_max, quantize_lloyd, rd_sqnr_db
from ..metrics import per_tensor, sqnr_db
from . import markdown, rates
from .embeddings import NEIGHBOURS

SPECS = ("rf8:log:none", "rf8:log:tensor", "rf8:log:channel", "rf8:log:block", "rf8:nearest:none",
         "rf8:nearest:tensor", "rf8:nearest:channel", "rf8:nearest:block", "e4m3:nearest:tensor",
         "e5m2:nearest:tensor", "int8:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block")
SETTINGS = {"std": 0.02, "rows": 1000, "seed": 0, "neighbours": NEIGHBOURS}  # what the page says about how it ran
E2E = ("rf8:log:none", "rf8:nearest:tensor", "rf8:nearest:channel", "e4m3:nearest:tensor", "e5m2:nearest:tensor",
       "int8:nearest:channel", "mxfp8:nearest:block")
E2E_ALL = tuple(dict.fromkeys(E2E + tuple(QuantSpec.parse(s).key for s in rates.SPECS)))  # + the 6- and 4-bit families


def synthetic(shapes, n: int, seed: int = SETTINGS["seed"], std: float = SETTINGS["std"],
              rows: int = SETTINGS["rows"]) -> list[dict]:
    out = []
    for nu in shapes:
        x = gg(nu, 1.0).rvs(n, random_state=seed)
        x = (x * std / x.std()).astype(np.float32).reshape(rows, -1)
        x64 = x.astype(np.float64)
        row = {"shape": nu}
        for spec in map(QuantSpec.parse, SPECS):
            q = api.quantize(x, spec).astype(np.float64)
            kept = (x64 != 0) & (q != 0)  # values flushed to zero are counted apart, not as error 1
            row[f"{spec.label} SQNR"] = sqnr_db(x64, q)
            row[f"{spec.label} max rel"] = float(np.max(np.abs(q[kept] - x64[kept]) / np.abs(x64[kept])))
            row[f"{spec.label} flushed"] = float(np.mean((q == 0) & (x64 != 0)))
        t, y, sq = lloyd_max(nu)
        rms = float(np.sqrt(np.mean(x64 ** 2)))
        row["Lloyd-Max 256 (ideal for this GG) SQNR"] = sqnr_db(x64, quantize_lloyd(x64, t, y, rms))
        row["Lloyd-Max 256 analytic SQNR"] = sq
        row["rate-distortion bound, 8 bits SQNR"] = rd_sqnr_db(nu)
        out.append(row)
    return out


def end_to_end(n_sentences: int, specs=E2E, progress=None, k: int = SETTINGS["neighbours"]) -> dict:
    """Section 3: MiniLM's sentence embeddings with its weight matrices in each format (reports/embeddings.py)."""
    from ..nn.bert import SentenceEncoder
    from ..nn.data import pydoc_sentences
    from .embeddings import study

    return study(SentenceEncoder("minilm"), pydoc_sentences(n_sentences), specs, k, progress)


def code_bits(arrays: dict, specs=E2E) -> dict:
    """Bits per weight after entropy coding each format's codes of the floating 2-D weights."""
    from ..methods.convert import code_sizes

    w = {k: v for k, v in arrays.items() if v.dtype.kind == "f"}
    out = {}
    for spec in map(QuantSpec.parse, specs):
        b = code_sizes(w, spec)
        out[spec.label] = {k: b[k] for k in ("fixed", "exp_golomb", "huffman", "entropy")}
    return out


def figures(syn, mini, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = [r["shape"] for r in syn]
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.2), dpi=80)
    cols = [c for c in syn[0] if c.endswith(" SQNR") and "analytic" not in c]
    for i, c in enumerate(cols):
        style = "-" if c.startswith("rf8") else (":" if "bound" in c or "Lloyd" in c else "--")
        axs[0].plot(shapes, [r[c] for r in syn], style, marker=".", label=c[:-5], color=f"C{i % 10}")
    axs[0].set_xlabel("GG shape ν (2 = Gaussian, 1 = Laplace)")
    axs[0].set_ylabel("SQNR (dB)")
    axs[0].set_title("synthetic GG weights, 10^6 values")
    axs[0].legend(fontsize=6, ncol=2)
    axs[0].grid(alpha=0.3)
    rel = [c for c in syn[0] if c.endswith(" max rel")]  # over values not flushed to zero
    for i, c in enumerate(rel):
        axs[1].plot(shapes, [r[c] for r in syn], "-" if c.startswith("rf8") else "--", marker=".", label=c[:-8],
                    color=f"C{i % 10}")
    axs[1].set_yscale("log")
    axs[1].set_xlabel("GG shape ν")
    axs[1].set_ylabel("max relative error (values not flushed to 0)")
    axs[1].set_title("worst case")
    axs[1].grid(alpha=0.3)
    sq = [c for c in mini.columns if c.endswith("SQNR dB")]
    data = [mini[c].replace([np.inf, -np.inf], np.nan).dropna().values for c in sq]
    # horizontal boxes: `orientation` since matplotlib 3.10, `vert` before (deprecated in 3.11); labels set apart,
    # since that keyword's name changed in 3.9
    horizontal = {"orientation": "horizontal"} if "orientation" in inspect.signature(axs[2].boxplot).parameters \
        else {"vert": False}
    axs[2].boxplot(data, **horizontal)
    axs[2].set_yticks(range(1, len(sq) + 1), [c.replace(" SQNR dB", "") for c in sq])
    axs[2].tick_params(axis="y", labelsize=7)
    axs[2].set_xlabel("SQNR (dB) per tensor")
    axs[2].set_title("all-MiniLM-L6-v2, every tensor")
    axs[2].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "format_comparison.png")
    plt.close(fig)


def run(out="reports", quick: bool = False, command: str | None = None) -> Path:
    from tqdm.auto import tqdm

    from ..io.checkpoints import load

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shapes = (0.3, 0.5, 1.0, 2.0, 3.0) if quick else (0.3, 0.4, 0.5, 0.7, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
    n = 256_000 if quick else 10 ** 6
    bar = tqdm(total=5, desc="format study", unit="part")
    syn = synthetic(shapes, n)
    bar.update()
    arrays = load("minilm")
    mini = per_tensor(arrays, SPECS)
    bar.update()
    e2e = end_to_end(200 if quick else 1000, specs=E2E_ALL)
    bar.update()
    from ..gg import fit

    weights = [a for a in arrays.values() if a.dtype.kind == "f" and a.ndim == 2]
    nu_minilm = float(np.median([fit(a.astype(np.float64).ravel()).shape for a in weights]))
    rate = {"synthetic": rates.synthetic(shapes, n, SETTINGS["rows"], SETTINGS["std"]),
            "limits": rates.limits(tuple(shapes) + (nu_minilm,)), "minilm": rates.minilm(arrays),
            "minilm_median_shape": nu_minilm, "seeds": list(rates.SEEDS)}
    bar.update()
    bits = code_bits({k: v for k, v in arrays.items() if not (quick and "word_embeddings" in k)})
    bar.update()
    bar.close()
    versions = markdown.versions("rf8lab", "numpy", "scipy", "pandas", "matplotlib", "numba")
    minutes = (time.perf_counter() - t0) / 60
    cmd = (command or ("python analysis/format_study.py" + (" --quick" if quick else ""))).strip()
    d = {"command": cmd, "versions": versions, "minutes": minutes, "n": n, "quick": quick,
         "settings": {**SETTINGS, "specs": list(SPECS), "end_to_end_specs": list(E2E)}, "synthetic": syn,
         "minilm_per_tensor": json.loads(mini.to_json(orient="records")), "end_to_end": e2e, "code_bits": bits,
         "rates": rate}
    (out / "format_comparison.json").write_text(json.dumps(d, indent=1))
    return render(out)


def render(out="reports") -> Path:
    """The figure and the markdown from format_comparison.json (no recomputation)."""
    import pandas as pd

    from .markdown import md_table

    out = Path(out)
    d = json.loads((out / "format_comparison.json").read_text())
    syn, mini, e2e, bits = d["synthetic"], pd.DataFrame(d["minilm_per_tensor"]), d["end_to_end"], d["code_bits"]
    cmd, versions, minutes, n, quick = d["command"], d["versions"], d["minutes"], d["n"], d["quick"]
    st = d["settings"]
    order = ["unscaled", "tensor", "channel", "block"]
    scales = sorted({QuantSpec.parse(k).scale or "unscaled" for k in st["specs"]}, key=order.index)
    blocks = sorted({QuantSpec.parse(k).block or QuantSpec.parse(k).format.default_block for k in st["specs"]
                     if QuantSpec.parse(k).scale == "block"})
    figures(syn, mini, out)
    sq = [c for c in mini.columns if c.endswith("SQNR dB")]
    syn_df = pd.DataFrame(syn).set_index("shape")
    sqnr_syn = syn_df[[c for c in syn_df.columns if c.endswith(" SQNR")]].rename(columns=lambda c: c[:-5]).T
    sqnr_syn.columns = [f"ν={v:g}" for v in sqnr_syn.columns]
    by_type = mini.groupby("type")[sq].median().rename(columns=lambda c: c.replace(" SQNR dB", "")).T
    e2e_df = pd.DataFrame(e2e["formats"]).T
    bits_df = pd.DataFrame(bits).T
    L = ["# Formats compared: RF8, E4M3, E5M2, INT8, MXFP8 and the limits", "",
         f"Command: `{cmd}` ({minutes:.1f} min).  ",
         "Versions: " + markdown.versions_line(versions) + ".",
         "", "![formats](format_comparison.png)", "",
         f"## 1. Synthetic GG weights ({n:,} values per shape, std {st['std']:g}, as a {st['rows']}-row matrix; "
         f"seed {st['seed']})", "",
         "SQNR in dB = 10·log10(Σx² / Σ(x − q)²). `Lloyd-Max 256` is the MSE-optimal 256-level scalar quantizer "
         "designed for that exact GG (rf8lab.gg.limits, closed-form Lloyd iteration), applied at the data's RMS; the "
         "rate-distortion bound is the Shannon lower bound at 8 bits per value (exact for the Gaussian: 48.16 dB), "
         "reachable only with entropy coding and vector quantization. Scales: "
         + ", ".join({"unscaled": "unscaled (X = 0)", "tensor": "per tensor", "channel": "per channel (row)",
                      "block": "per block of " + "/".join(map(str, blocks))}[k] for k in scales) + ".", "",
         md_table(sqnr_syn.reset_index().rename(columns={"index": "quantizer"}), 4),
         "", "Maximum relative error over the values not flushed to zero, and the fraction flushed to zero:", "",
         md_table(_by_shape(syn_df, " max rel"), 4), "", md_table(_by_shape(syn_df, " flushed"), 6),
         "", "## 2. all-MiniLM-L6-v2, every tensor", "",
         f"Median SQNR (dB) over the tensors of each type ({len(mini)} tensors; per tensor in the JSON):", "",
         md_table(by_type.reset_index().rename(columns={"index": "format"}), 4), "",
         f"## 3. MiniLM end to end ({e2e['n_sentences']} sentences from CPython's docs)", "",
         "Every weight matrix (2-D) converted, gains and biases kept; sentence embeddings (mean pooling, L2 "
         "normalized) compared with float32's: cosine similarity per sentence, and the fraction of each sentence's "
         f"{st['neighbours']} nearest neighbours (among the others) that stay the same. tests/test_bert.py holds the "
         "float32 NumPy model to transformers' embeddings.", "",
         md_table(e2e_df.reset_index().rename(columns={"index": "format"}), 5), "",
         "## 4. Bits per weight after entropy coding each format's codes (MiniLM weight matrices"
         + (", word embeddings left out in quick mode)" if quick else ")"), "",
         md_table(bits_df.reset_index().rename(columns={"index": "format"}), 4), "",
         *(rate_section(d["rates"], out) if "rates" in d else []),
         "## Conclusion", "", *conclusion(syn_df, mini, e2e_df.loc[[i for i in e2e_df.index if i in _labels(E2E)]],
                                          bits_df, st['neighbours']),
         *(rate_conclusion(d["rates"], e2e_df, st["neighbours"]) if "rates" in d else [])]
    (out / "format_comparison.md").write_text("\n".join(L) + "\n")
    return out / "format_comparison.md"


def rate_section(rate: dict, out: Path) -> list[str]:
    """Section 5 from the JSON: SQNR against bits per value, the limits, the best per bit."""
    import pandas as pd

    from .markdown import md_table

    syn, lim, mini = rate["synthetic"], rate["limits"], rate["minilm"]
    rates.figure(syn, lim, mini, out / "format_rates.png", rate["minilm_median_shape"])
    shapes = sorted({r["shape"] for r in syn})
    df = pd.DataFrame(syn)
    df["cell"] = [f"{m:.2f} ± {(hi - lo) / 2:.2f}" for m, lo, hi in zip(df.sqnr_mean, df.sqnr_min, df.sqnr_max)]
    table = df.pivot_table(index=["label", "bits"], columns="shape", values="cell", aggfunc="first", sort=False)
    table.columns = [f"ν={v:g}" for v in table.columns]
    table = table.reset_index().rename(columns={"label": "format", "bits": "bits/value"})
    ld = pd.DataFrame([r for r in lim if r["shape"] in shapes])
    for b in (8, 6, 4):
        for col, name in (("lloyd_max", "Lloyd-Max"), ("rd_bound", "rate-distortion bound")):
            row = ld[ld.bits == b].set_index("shape")[col]
            table.loc[len(table)] = [f"{name}, {b} bits", float(b)] + [f"{row[s]:.2f}" for s in shapes]
    gap = pd.DataFrame(rates.rd_gap(syn)).T
    gap.columns = [f"ν={v:g}" for v in gap.columns]
    best = pd.DataFrame(rates.best_per_shape(syn, lim))
    best["rf8_rank"] = [("—" if r is None or r != r else str(int(r))) for r in best["rf8_rank"]]
    above = rates.above_lloyd_max(syn, lim)
    by_format: dict = {}
    for lab, nu, db in above:
        by_format.setdefault(lab, []).append(f"ν = {nu:g} (+{db:.1f} dB)")
    above_text = ("Lloyd-Max bounds scalar quantizers with 2^bits levels only: a block format is not one (its shared "
                  "scale adapts to each block), so it can pass that curve at its own rate, and here "
                  + "; ".join(f"{lab} does at {', '.join(v)}" for lab, v in by_format.items())
                  + ". The rate-distortion bound holds for every scheme; nothing passes it." if above else
                  "No format passes the Lloyd-Max curve at its own rate here, and none can pass the rate-distortion "
                  "bound.")
    best = best.rename(columns={"shape": "ν", "class": "storage", "best_sqnr": "best SQNR dB", "runner_up": "runner-up",
                                "lead_db": "lead dB", "lead_exceeds_seed_spread": "lead > seed spread",
                                "rf8_rank": "RF8's rank", "class_size": "formats in class"})
    m = pd.DataFrame(mini)
    nu_m = rate["minilm_median_shape"]
    mt = m.groupby("label", sort=False).agg(bits=("bits", "median"), median=("sqnr", "median"),
                                            q1=("sqnr", lambda v: float(np.percentile(v, 25))),
                                            q3=("sqnr", lambda v: float(np.percentile(v, 75))))
    from ..gg.limits import rd_sqnr_db

    mt["dB below R-D bound (ν median)"] = [rd_sqnr_db(nu_m, b) - med for b, med in zip(mt.bits, mt["median"])]
    seeds = ", ".join(map(str, rate["seeds"]))
    return [
        "## 5. At equal storage: SQNR per bit", "",
        "![SQNR against bits per value](format_rates.png)", "",
        "Bits per value count the scales: 8 bits per 2^X or E4M3 scale code, 32 per float multiplier, over the "
        "values each covers (RF8 and E4M3 per tensor: 8; MXFP8 8.25; MXFP6 6.25; MXFP4 4.25; NVFP4 4.5, its "
        f"one float32 per tensor left out). GG weights as in section 1, seeds {seeds}: mean ± half the range "
        "over the seeds. The limits are for each GG at that many bits: Lloyd-Max with 2^bits levels and the "
        "Shannon lower bound on the distortion-rate function (what no scalar quantizer, and for the bound no "
        "quantizer at all, beats).", "",
        md_table(table, 4), "", above_text, "",
        "dB below the rate-distortion bound at the format's own bits per value (smaller is better per bit; "
        "6.02 dB is one bit):", "",
        md_table(gap.reset_index().rename(columns={"index": "format"}), 3), "",
        "Best format per shape in each storage class (about 8, 6 and 4 bits per value), its lead over the "
        "runner-up, whether that lead exceeds the spread over the seeds, and RF8's rank where it is in the "
        "class:", "",
        md_table(best, 3), "",
        f"all-MiniLM-L6-v2, every 2-D weight ({m.tensor.nunique()} tensors): median SQNR and interquartile range; "
        f"the bound is for the median fitted GG shape of these tensors, ν = {nu_m:.2f} (rf8lab.gg.fit, MLE):", "",
        md_table(mt.reset_index().rename(columns={"label": "format"}), 4), "",
    ]


def rate_conclusion(rate: dict, e2e_df, k: int) -> list[str]:
    """Which format is best per bit for which shape, decided from the numbers."""
    best = rates.best_per_shape(rate["synthetic"], rate["limits"])
    lines = []
    for cls in ("8-bit", "6-bit", "4-bit"):
        rows = [r for r in best if r["class"] == cls]
        if not rows:
            continue
        by: dict = {}
        for r in rows:
            by.setdefault(r["best"], []).append(r["shape"])
        parts = [f"{lab} at ν = {', '.join(f'{s:g}' for s in shapes)}" for lab, shapes in by.items()]
        ranks = [r["rf8_rank"] for r in rows if r["rf8_rank"] is not None]
        size = max(r["class_size"] for r in rows)
        unsure = [r["shape"] for r in rows if not r["lead_exceeds_seed_spread"]]
        lines.append(f"- Best {cls} format per shape: " + "; ".join(parts) + "."
                     + ((f" RF8's best variant ranks {min(ranks)}"
                         + (f" to {max(ranks)}" if max(ranks) > min(ranks) else "")
                         + f" of {size} in this class at every shape.") if ranks else "")
                     + (f" At ν = {', '.join(f'{s:g}' for s in unsure)} the lead is within the seeds' spread: no "
                        "winner is claimed there." if unsure else ""))
    if not any("rf8" in r["best"] for r in best):
        lines.append("- RF8 (and MXRF8) is the best format per bit at no shape in this sweep.")
    gap = rates.rd_gap(rate["synthetic"])
    mean_gap = {lab: float(np.mean(list(v.values()))) for lab, v in gap.items()}
    fair = min(mean_gap, key=mean_gap.get)
    rf8_best = min((lab for lab in mean_gap if "rf8" in lab), key=mean_gap.get)
    lines.append(f"- Per bit across rates (dB below the rate-distortion bound at each format's own bits, mean over "
                 f"shapes): {fair} is closest ({mean_gap[fair]:.2f} dB); RF8's best, {rf8_best}, is "
                 f"{mean_gap[rf8_best]:.2f} dB.")
    four = [lab for lab in e2e_df.index if QuantSpec.parse(_key(lab, rate)).format.bits == 4]
    if four:
        a = e2e_df.loc[four, "neighbour_agreement"]
        lines.append(f"- End to end at 4 bits: top-{k} neighbour agreement {a.min():.3f} ({a.idxmin()}) to "
                     f"{a.max():.3f} ({a.idxmax()}), mean cosine {e2e_df.loc[four, 'cos_mean'].min():.4f} or more.")
    return lines


def _labels(keys) -> set[str]:
    return {QuantSpec.parse(k).label for k in keys}


def _key(label: str, rate: dict) -> str:
    """The spec key of a table label (labels are what the JSON's tables are indexed by)."""
    for r in rate["synthetic"]:
        if r["label"] == label:
            return r["spec"]
    return next(QuantSpec.parse(s).key for s in E2E if QuantSpec.parse(s).label == label)


def _by_shape(df, suffix):
    t = df[[c for c in df.columns if c.endswith(suffix)]].rename(columns=lambda c: c[:-len(suffix)]).T
    t.columns = [f"ν={v:g}" for v in t.columns]
    return t.reset_index().rename(columns={"index": "format"})


def conclusion(syn_df, mini, e2e_df, bits_df, k: int) -> list[str]:
    """The conclusions, each comparison decided from the numbers (a rerun cannot keep an old verdict)."""
    rf8 = "rf8 nearest, tensor SQNR"
    e4 = "e4m3 nearest, tensor SQNR"
    log_ = "rf8 log, unscaled SQNR"
    lm = "Lloyd-Max 256 (ideal for this GG) SQNR"
    d = syn_df[rf8] - syn_df[e4]
    gap = syn_df[lm] - syn_df[rf8]
    med = mini[[c for c in mini.columns if c.endswith("SQNR dB")]].replace(np.inf, np.nan).median()
    e = e2e_df
    rf8_cols = [c for c in syn_df.columns if c.startswith("rf8 nearest") and c.endswith(" SQNR")]
    rf8_spread = float(syn_df[rf8_cols].T.std().max())  # across scale granularities
    shapes = f"ν = {syn_df.index.min():g} to {syn_df.index.max():g}"
    agree = e["neighbour_agreement"]
    rf8_bits, e4_bits = bits_df.loc["rf8 nearest, tensor", "huffman"], bits_df.loc["e4m3 nearest, tensor", "huffman"]
    lines = [
        (f"- On synthetic GG weights, RF8 (nearest, per-tensor scale) is {-d.max():.1f} to {-d.min():.1f} dB below "
         f"E4M3 at every shape from {shapes}: its octave holds 7 magnitudes against E4M3's 8, and its 4-binade "
         "residual window does not make up for it." if (d < 0).all() else
         f"- On synthetic GG weights, RF8 (nearest, per-tensor scale) is {d.min():+.1f} to {d.max():+.1f} dB against "
         f"E4M3 over {shapes}.") + " The paper's log rounding costs "
        f"a further {float((syn_df[rf8] - syn_df[log_]).median()):.1f} dB (median over shapes) "
        "against round-to-nearest. "
        + (f"The scale granularity makes no difference to RF8 here (all its scales within {rf8_spread:.3f} dB): "
           "its error is relative and these tensors fit its 2^16 range; " if rf8_spread < 0.1 else
           f"The scale granularity moves RF8 by up to {rf8_spread:.2f} dB (standard deviation over its scales); ")
        + "INT8 gains "
        f"{float((syn_df['int8 nearest, channel SQNR'] - syn_df['int8 nearest, tensor SQNR']).min()):.1f} to "
        f"{float((syn_df['int8 nearest, channel SQNR'] - syn_df['int8 nearest, tensor SQNR']).max()):.1f} dB "
        "from per-channel scales.",
        f"- The MSE-optimal 8-bit scalar quantizer for each GG is {gap.min():.1f} to {gap.max():.1f} dB above RF8, "
        "and the 8-bit rate-distortion bound "
        f"{float((syn_df['rate-distortion bound, 8 bits SQNR'] - syn_df[rf8]).min()):.1f} "
        "dB or more: every floating-point 8-bit format spends most of its codes on a dynamic range these "
        "distributions do not use.",
        f"- On MiniLM's tensors the medians agree: RF8 per tensor {med['rf8 nearest, tensor SQNR dB']:.1f} dB, "
        f"E4M3 {med['e4m3 nearest, tensor SQNR dB']:.1f} dB, "
        f"INT8 per channel {med['int8 nearest, channel SQNR dB']:.1f} dB, "
        f"unscaled RF8 log (the paper's use) {med['rf8 log, unscaled SQNR dB']:.1f} dB.",
        f"- End to end, every 8-bit format keeps MiniLM's sentence embeddings close to float32 (mean cosine "
        f"{e['cos_mean'].min():.5f} or more); top-{k} neighbour agreement: RF8 per tensor "
        f"{e.loc['rf8 nearest, tensor', 'neighbour_agreement']:.3f}, "
        f"RF8 log unscaled {e.loc['rf8 log, unscaled', 'neighbour_agreement']:.3f}, "
        f"E4M3 {e.loc['e4m3 nearest, tensor', 'neighbour_agreement']:.3f}, INT8 per channel "
        f"{e.loc['int8 nearest, channel', 'neighbour_agreement']:.3f}. "
        + ("So RF8 is usable \"without compromising accuracy\" at the level of these embeddings, as are the others; "
           if e["cos_mean"].min() > 0.99 else "")
        + ("it is not more accurate than E4M3." if agree["rf8 nearest, tensor"] <= agree["e4m3 nearest, tensor"]
           else "it keeps more neighbours than E4M3 here."),
        f"- After entropy coding, RF8's codes take {rf8_bits:.2f} bits (Huffman) against E4M3's {e4_bits:.2f}"
        + (": fewer distinct values, so slightly cheaper to store. " if rf8_bits < e4_bits else ". ")
        + "Its case rests on the multiplier (docs/rf8-hardware.md).",
    ]
    return lines
