"""How far a quantized array is from the original: SQNR, worst relative error, values flushed to zero."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .codec import api
from .codec.spec import QuantSpec
from .io.names import layer_index, tensor_type


def sqnr_db(x: np.ndarray, q: np.ndarray) -> float:
    """10 log10(sum x^2 / sum (x - q)^2): inf when q equals x, nan when x is all zeros."""
    x, q = np.asarray(x, np.float64), np.asarray(q, np.float64)
    err, sig = np.sum((x - q) ** 2), np.sum(x * x)
    return float("inf") if err == 0 else float(10 * np.log10(sig / err)) if sig > 0 else float("nan")


def errors(w: np.ndarray, spec: QuantSpec, backend: str = "auto") -> dict:
    """SQNR in dB, max relative error (nonzero inputs) and fraction flushed to zero."""
    x = np.asarray(w, np.float32)
    q = api.quantize(x, spec.for_shape(x.shape), backend=backend).astype(np.float64)
    x64 = x.astype(np.float64)
    nz = x64 != 0
    rel = np.abs(q[nz] - x64[nz]) / np.abs(x64[nz])
    return {"sqnr_db": sqnr_db(x64, q), "max_rel_err": float(rel.max()) if rel.size else 0.0,
            "flushed": float(np.mean((q == 0) & nz))}


def per_tensor(arrays: dict, specs) -> pd.DataFrame:
    """One row per floating tensor: its type, layer, size, and SQNR and max relative error in each spec."""
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
