"""What every report page shares: markdown tables and the versions line of its provenance."""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd


def md_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a markdown table (floats to `digits` significant digits)."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return f"{v:.{digits}g}"
        return str(v)
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def versions(*packages: str) -> dict[str, str]:
    """{"python": ..., package: version} for the packages a page's numbers depend on (rf8lab first)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def versions_line(v: dict) -> str:
    """The versions as a page states them: "python 3.11.7, rf8lab 0.1.0, numpy 2.4.6"."""
    return ", ".join(f"{k} {x}" for k, x in v.items())
