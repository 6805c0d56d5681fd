"""The format comparison study: RF8 against E4M3, E5M2, INT8 and MXFP8, and against the limits.

1. SQNR and maximum relative error against the GG shape (synthetic, 10^6 values at std 0.02), with
   the MSE-optimal 256-level quantizer (Lloyd-Max) and the 8-bit rate-distortion bound;
2. the same on every tensor of all-MiniLM-L6-v2;
3. MiniLM end to end: sentence embeddings with every weight matrix in each format, against float32
   (cosine similarity, agreement of the nearest neighbours) over real sentences;
4. bits per weight after entropy coding each format's codes.

`python analysis/format_study.py [--quick]` (or `rf8lab demo`) writes reports/format_comparison.md,
reports/format_comparison.json and PNGs.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..codec import api
from ..codec.spec import QuantSpec
from ..gg import gg
from ..gg.limits import lloyd_max, quantize_lloyd, rd_sqnr_db
from ..metrics import per_tensor, sqnr_db
from . import markdown

SPECS = ("rf8:log:none", "rf8:log:tensor", "rf8:log:channel", "rf8:log:block", "rf8:nearest:none",
         "rf8:nearest:tensor", "rf8:nearest:channel", "rf8:nearest:block", "e4m3:nearest:tensor",
         "e5m2:nearest:tensor", "int8:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block")
SETTINGS = {"std": 0.02, "rows": 1000, "seed": 0, "neighbours": 10}  # what the page says about how it ran
E2E = ("rf8:log:none", "rf8:nearest:tensor", "rf8:nearest:channel", "e4m3:nearest:tensor", "e5m2:nearest:tensor",
       "int8:nearest:channel", "mxfp8:nearest:block")


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
    from ..methods.convert import convert
    from ..nn.minilm import MiniLM, pydoc_sentences

    m = MiniLM()
    sentences = pydoc_sentences(n_sentences)
    ref = m.embed(sentences)
    sim = ref @ ref.T
    np.fill_diagonal(sim, -np.inf)
    nn_ref = np.argsort(-sim, axis=1)[:, :k]
    out = {"n_sentences": len(sentences), "formats": {}}
    for s in specs:
        spec = QuantSpec.parse(s)
        e = m.embed(sentences, params=convert(m.params, spec))
        cos = np.sum(e * ref, axis=1)
        se = e @ e.T
        np.fill_diagonal(se, -np.inf)
        nn_q = np.argsort(-se, axis=1)[:, :k]
        agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(nn_ref, nn_q)])
        out["formats"][spec.label] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                                     "neighbour_agreement": float(agree)}
        if progress:
            progress(s)
    return out


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
    axs[2].boxplot(data, vert=False)  # labels set apart: the keyword's name changed in matplotlib 3.9
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
    bar = tqdm(total=4, desc="format study", unit="part")
    syn = synthetic(shapes, n)
    bar.update()
    arrays = load("minilm")
    mini = per_tensor(arrays, SPECS)
    bar.update()
    e2e = end_to_end(200 if quick else 1000)
    bar.update()
    bits = code_bits({k: v for k, v in arrays.items() if not (quick and "word_embeddings" in k)})
    bar.update()
    bar.close()
    versions = markdown.versions("rf8lab", "numpy", "scipy", "pandas", "matplotlib", "numba")
    minutes = (time.perf_counter() - t0) / 60
    cmd = (command or ("python analysis/format_study.py" + (" --quick" if quick else ""))).strip()
    d = {"command": cmd, "versions": versions, "minutes": minutes, "n": n, "quick": quick,
         "settings": {**SETTINGS, "specs": list(SPECS), "end_to_end_specs": list(E2E)}, "synthetic": syn,
         "minilm_per_tensor": json.loads(mini.to_json(orient="records")), "end_to_end": e2e, "code_bits": bits}
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
         f"{st['neighbours']} nearest neighbours (among the others) that stay the same. tests/test_minilm.py holds the "
         "float32 NumPy model to transformers' embeddings.", "",
         md_table(e2e_df.reset_index().rename(columns={"index": "format"}), 5), "",
         "## 4. Bits per weight after entropy coding each format's codes (MiniLM weight matrices"
         + (", word embeddings left out in quick mode)" if quick else ")"), "",
         md_table(bits_df.reset_index().rename(columns={"index": "format"}), 4), "",
         "## Conclusion", "", *conclusion(syn_df, mini, e2e_df, bits_df, st['neighbours'])]
    (out / "format_comparison.md").write_text("\n".join(L) + "\n")
    return out / "format_comparison.md"


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
        f"- End to end, every format keeps MiniLM's sentence embeddings close to float32 (mean cosine "
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
