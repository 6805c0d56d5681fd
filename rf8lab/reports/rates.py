"""The format study's question of the field: at equal storage, where does RF8 stand?

Storage is bits per value with the scales counted: a power-of-two scale (2^X) costs 8 bits, a float
multiplier 32, per group, so RF8 and E4M3 per tensor take 8 bits (plus 8 per tensor), MXFP8 8.25,
MXFP6 6.25, MXFP4 4.25, NVFP4 4.5 (its one float32 per tensor left out, as NVIDIA counts it). For each
format the study measures SQNR on GG weights (several seeds) and on every MiniLM tensor, beside what no
scalar quantizer at that rate can beat: the Lloyd-Max quantizer with 2^bits levels designed for that GG,
and the Shannon lower bound on the distortion-rate function at that many bits (rf8lab.gg.limits).
Fair across rates: dB below the rate-distortion bound at the format's own bits per value.
"""
from __future__ import annotations

import numpy as np

from ..codec import api
from ..codec.spec import QuantSpec
from ..gg import gg
from ..gg.limits import lloyd_max, rd_sqnr_db
from ..metrics import sqnr_db

# The 8-bit, 6-bit and 4-bit families, each at its usual scale
SPECS = ("rf8:nearest:tensor", "rf8:log:none", "e4m3:nearest:tensor", "int8:nearest:channel", "mxfp8", "mxint8",
         "mxrf8", "mxfp6", "mxfp6-e3m2", "mxfp4", "nvfp4", "int4:nearest:channel")
SEEDS = (0, 1, 2)
LIMIT_BITS = (4, 4.25, 4.5, 6, 6.25, 8, 8.25)


def storage_bits(spec: QuantSpec, shape) -> float:
    """Bits per value of `spec` on an array of this shape: element bits plus each group's scale (8 bits
    for a 2^X or an E4M3 code, 32 for a float multiplier) over the values it covers."""
    f, layout = api.resolve(spec.for_shape(shape), shape)
    n = int(np.prod(shape, dtype=np.int64))
    if layout.granularity is None or n == 0:
        return float(f.bits)
    groups = int(np.prod(layout.scale_shape, dtype=np.int64))
    return f.bits + groups * (32 if f.scale_rule == "absmax" else 8) / n


def synthetic(shapes, n: int, rows: int, std: float, seeds=SEEDS) -> list[dict]:
    """Per shape and spec: bits per value and SQNR (mean and spread over the seeds)."""
    out = []
    for nu in shapes:
        for spec in map(QuantSpec.parse, SPECS):
            vals = []
            for seed in seeds:
                x = gg(nu, 1.0).rvs(n, random_state=seed)
                x = (x * std / x.std()).astype(np.float32).reshape(rows, -1)
                vals.append(sqnr_db(x.astype(np.float64), api.quantize(x, spec).astype(np.float64)))
            out.append({"shape": nu, "spec": spec.key, "label": spec.label,
                        "bits": storage_bits(spec, (rows, n // rows)), "sqnr_mean": float(np.mean(vals)),
                        "sqnr_min": float(np.min(vals)), "sqnr_max": float(np.max(vals))})
    return out


def limits(shapes, bits=LIMIT_BITS) -> list[dict]:
    """Lloyd-Max (2^bits levels, rounded to an even count) and rate-distortion SQNR per shape and rate."""
    out = []
    for nu in shapes:
        for b in bits:
            levels = 2 * max(1, round(2 ** b / 2))
            out.append({"shape": nu, "bits": b, "lloyd_max": lloyd_max(nu, levels)[2], "rd_bound": rd_sqnr_db(nu, b)})
    return out


def minilm(arrays: dict) -> list[dict]:
    """SQNR of every 2-D MiniLM weight in every spec, with its bits per value."""
    out = []
    for name, a in arrays.items():
        if np.asarray(a).dtype.kind != "f" or np.asarray(a).ndim != 2:
            continue
        x64 = np.asarray(a, np.float64)
        for spec in map(QuantSpec.parse, SPECS):
            out.append({"tensor": name, "spec": spec.key, "label": spec.label, "bits": storage_bits(spec, a.shape),
                        "sqnr": sqnr_db(x64, api.quantize(a, spec).astype(np.float64))})
    return out


def best_per_shape(syn: list[dict], lim: list[dict]) -> list[dict]:
    """Per shape and storage class (about 8, 6 and 4 bits): the format with the highest SQNR, whether its
    lead over the runner-up exceeds the seeds' spread, and each format's distance to the R-D bound at its
    own rate (the fair measure across rates)."""
    out = []
    for nu in sorted({r["shape"] for r in syn}):
        rows = [r for r in syn if r["shape"] == nu]
        for cls, lo, hi in (("8-bit", 7.5, 8.6), ("6-bit", 5.5, 6.6), ("4-bit", 3.5, 4.6)):
            group = sorted((r for r in rows if lo <= r["bits"] <= hi), key=lambda r: -r["sqnr_mean"])
            if len(group) < 2:
                continue
            a, b = group[0], group[1]
            spread = max(a["sqnr_max"] - a["sqnr_min"], b["sqnr_max"] - b["sqnr_min"])
            out.append({"shape": nu, "class": cls, "best": a["label"], "best_sqnr": a["sqnr_mean"],
                        "runner_up": b["label"], "lead_db": a["sqnr_mean"] - b["sqnr_mean"],
                        "lead_exceeds_seed_spread": bool(a["sqnr_mean"] - b["sqnr_mean"] > spread),
                        "class_size": len(group),
                        "rf8_rank": next((i + 1 for i, r in enumerate(group) if r["spec"].startswith(("rf8", "mxrf8"))),
                                         None)})
    return out


def above_lloyd_max(syn: list[dict], lim: list[dict]) -> list[tuple[str, float, float]]:
    """(label, shape, dB) where a format passes the Lloyd-Max quantizer at its own rate (interpolated in bits
    between the computed rates): possible for block formats, whose shared scale adapts to each block."""
    out = []
    for r in syn:
        ls = sorted((x for x in lim if x["shape"] == r["shape"]), key=lambda x: x["bits"])
        lm = float(np.interp(r["bits"], [x["bits"] for x in ls], [x["lloyd_max"] for x in ls]))
        if r["sqnr_min"] > lm:
            out.append((r["label"], r["shape"], r["sqnr_mean"] - lm))
    return out


def rd_gap(syn: list[dict]) -> dict:
    """dB below the rate-distortion bound at the format's own bits per value: {label: {shape: gap}}."""
    out: dict = {}
    for r in syn:
        out.setdefault(r["label"], {})[r["shape"]] = rd_sqnr_db(r["shape"], r["bits"]) - r["sqnr_mean"]
    return out


def figure(syn, lim, mini, path, minilm_shape: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = [s for s in (0.5, 1.0, 2.0) if any(r["shape"] == s for r in syn)] or sorted({r["shape"] for r in syn})[:3]
    fig, axs = plt.subplots(1, len(shapes) + 1, figsize=(4.6 * (len(shapes) + 1), 4.2), dpi=72)
    labels = list(dict.fromkeys(r["label"] for r in syn))
    cmap = plt.get_cmap("tab20")
    colors = {lab: cmap(i % 20) for i, lab in enumerate(labels)}
    for ax, nu in zip(axs, shapes):
        ls = sorted((r for r in lim if r["shape"] == nu), key=lambda r: r["bits"])
        ax.plot([r["bits"] for r in ls], [r["rd_bound"] for r in ls], "k:", label="rate-distortion bound")
        ax.plot([r["bits"] for r in ls], [r["lloyd_max"] for r in ls], "k--", marker=".", label="Lloyd-Max")
        for r in (r for r in syn if r["shape"] == nu):
            mark = "*" if "rf8" in r["label"] else "o"
            err = [[r["sqnr_mean"] - r["sqnr_min"]], [r["sqnr_max"] - r["sqnr_mean"]]]
            ax.errorbar(r["bits"], r["sqnr_mean"], yerr=err, fmt=mark, color=colors[r["label"]],
                        ms=8 if mark == "*" else 5, label=r["label"])
        ax.set_title(f"GG ν = {nu:g}")
        ax.set_xlabel("bits per value (scales included)")
        ax.set_ylabel("SQNR (dB)")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=6, ncol=2)
    ax = axs[-1]
    if minilm_shape is not None:
        ls = sorted((r for r in lim if r["shape"] == minilm_shape), key=lambda r: r["bits"])
        ax.plot([r["bits"] for r in ls], [r["rd_bound"] for r in ls], "k:")
        ax.plot([r["bits"] for r in ls], [r["lloyd_max"] for r in ls], "k--", marker=".")
    for lab in labels:
        pts = [r for r in mini if r["label"] == lab and np.isfinite(r["sqnr"])]
        if pts:
            med = float(np.median([p["sqnr"] for p in pts]))
            q1, q3 = np.percentile([p["sqnr"] for p in pts], [25, 75])
            ax.errorbar(float(np.median([p["bits"] for p in pts])), med, yerr=[[med - q1], [q3 - med]],
                        fmt="*" if "rf8" in lab else "o", color=colors[lab], label=lab)
    ax.set_title("all-MiniLM-L6-v2 weights: median, IQR" + (f"; limits at ν = {minilm_shape:.2f}"
                                                              if minilm_shape is not None else ""))
    ax.set_xlabel("bits per value (scales included)")
    ax.set_ylabel("SQNR (dB)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
