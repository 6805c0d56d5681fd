"""`rf8lab compare CHECKPOINT --formats ...`: every tensor rounded into every format, with its error.

A format is a QuantSpec in its text form, e.g. "rf8:log:none" (the paper's unscaled RF8),
"rf8:nearest:channel", "e4m3:tensor", "int8:channel", "mxfp8" (block 32). Per tensor: SQNR (dB),
maximum relative error over the nonzero values, and the fraction flushed to zero.
"""
from __future__ import annotations

import hashlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .checkpoints import load
from .codec import api
from .codec.spec import QuantSpec
from .fit_report import layer_index, md_table, tensor_type

DEFAULT = ("rf8:log:none", "rf8:nearest:tensor", "rf8:nearest:channel", "e4m3:nearest:tensor",
           "e5m2:nearest:tensor", "int8:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block")
def sqnr_db(x: np.ndarray, q: np.ndarray) -> float:
    """10 log10(sum x^2 / sum (x - q)^2): inf when q equals x, nan when x is all zeros."""
    x, q = np.asarray(x, np.float64), np.asarray(q, np.float64)
    err, sig = np.sum((x - q) ** 2), np.sum(x * x)
    return float("inf") if err == 0 else float(10 * np.log10(sig / err)) if sig > 0 else float("nan")


def errors(w: np.ndarray, spec: QuantSpec) -> dict:
    """SQNR in dB, max relative error (nonzero inputs) and fraction flushed to zero."""
    x = np.asarray(w, np.float32)
    q = api.quantize(x, spec.for_shape(x.shape)).astype(np.float64)
    x64 = x.astype(np.float64)
    nz = x64 != 0
    rel = np.abs(q[nz] - x64[nz]) / np.abs(x64[nz])
    return {"sqnr_db": sqnr_db(x64, q), "max_rel_err": float(rel.max()) if rel.size else 0.0,
            "flushed": float(np.mean((q == 0) & nz))}


def table(arrays: dict, specs) -> pd.DataFrame:
    specs = [QuantSpec.parse(s) if isinstance(s, str) else s for s in specs]
    rows = []
    for name, a in arrays.items():
        if not (np.asarray(a).dtype.kind == "f" or str(np.asarray(a).dtype) == "bfloat16") or np.asarray(a).size < 2:
            continue
        row = {"tensor": name, "type": tensor_type(name), "layer": layer_index(name), "n": int(np.asarray(a).size)}
        for spec in specs:
            e = errors(a, spec)
            row[f"{spec.label} SQNR dB"] = e["sqnr_db"]
            row[f"{spec.label} max rel err"] = e["max_rel_err"]
        rows.append(row)
    return pd.DataFrame(rows)


def write(source, out_dir, specs=DEFAULT, tensors=None) -> Path:
    from .checkpoints import source_path

    path = source_path(source)
    arrays = load(source, tensors)
    t0 = time.perf_counter()
    df = table(arrays, specs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "formats.csv", index=False)
    sq = [c for c in df.columns if c.endswith("SQNR dB")]
    by_type = df.groupby("type")[sq].median().rename(columns=lambda c: c.replace(" SQNR dB", ""))
    overall = df[sq].median().rename(lambda c: c.replace(" SQNR dB", ""))
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "n/a"
    import rf8lab

    lines = [f"# Formats on {path.name}", "",
             f"Command: `rf8lab compare {source} --formats {','.join(specs)}`  ",
             f"File SHA-256: {digest}; rf8lab {rf8lab.__version__}, numpy {np.__version__}, "
             f"python {platform.python_version()}; "
             f"{time.perf_counter() - t0:.1f} s.", "",
             "Every floating tensor rounded into every format (each scale computed from the tensor itself). SQNR = "
             "10·log10(Σw² / Σ(w − q)²); medians over tensors.", "",
             "## Median SQNR (dB) over all tensors", "",
             md_table(overall.to_frame("median SQNR dB").T.reset_index(drop=True), 2),
             "", "## Median SQNR (dB) by tensor type", "", md_table(by_type.reset_index(), 2), "",
             "Per tensor, with maximum relative errors: `formats.csv`."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"


def main(args) -> int:
    specs = [s for s in args.formats.split(",") if s] if args.formats else list(DEFAULT)
    try:
        for s in specs:
            QuantSpec.parse(s)
        path = write(args.checkpoint, args.out, specs, args.tensors)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    df = pd.read_csv(Path(args.out) / "formats.csv")
    sq = [c for c in df.columns if c.endswith("SQNR dB")]
    with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 20):
        print(df[["tensor"] + sq].rename(columns=lambda c: c.replace(" SQNR dB", "")).round(2).to_string(index=False))
    print(f"wrote {path} and {Path(args.out) / 'formats.csv'}")
    return 0
