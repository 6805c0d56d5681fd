"""`rf8lab compare CHECKPOINT --formats ...`: every tensor rounded into every format, with its error.

A format is a QuantSpec in its text form, e.g. "rf8:log:none" (the paper's unscaled RF8),
"rf8:nearest:channel", "e4m3:tensor", "int8:channel", "mxfp8" (block 32). Per tensor: SQNR (dB),
maximum relative error over the nonzero values, and the fraction flushed to zero.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..io.checkpoints import load
from ..metrics import per_tensor
from .embeddings import NEIGHBOURS, study
from .markdown import md_table, versions, versions_line

DEFAULT = ("rf8:log:none", "rf8:nearest:tensor", "rf8:nearest:channel", "e4m3:nearest:tensor",
           "e5m2:nearest:tensor", "int8:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block")


def _files_line(checkpoint: dict) -> str:
    if "files" not in checkpoint:
        return f"File SHA-256: {checkpoint['sha256']}"
    return f"{len(checkpoint['files'])} files, SHA-256 of their sha256sum listing: {checkpoint['sha256']}"


def write(source, out_dir, specs=DEFAULT, tensors=None, end_to_end: int | None = None,
          neighbours: int = NEIGHBOURS) -> Path:
    """formats.csv and report.md in out_dir; with end_to_end=N, the source is a BERT folder (or "minilm") and
    the report adds its sentence embeddings on N sentences of CPython's docs in each format (end_to_end.csv)."""
    from ..io.checkpoints import describe

    encoder = sentences = None
    weights = source
    if end_to_end is not None:
        from ..nn.bert import SentenceEncoder
        from ..nn.data import pydoc_sentences
        from .embeddings import check

        check(end_to_end, neighbours)
        sentences = pydoc_sentences(end_to_end)
        if len(sentences) < end_to_end:
            raise ValueError(f"--sentences {end_to_end}: CPython's docs give {len(sentences)} sentences here")
        encoder = SentenceEncoder(source)
        weights = encoder.root  # the folder that holds the transformer's weights (0_Transformer/, ...)
    arrays = load(weights, tensors)
    checkpoint = describe(weights)
    t0 = time.perf_counter()
    df = per_tensor(arrays, specs)
    e2e = None if encoder is None else study(encoder, sentences, specs, neighbours)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "formats.csv", index=False)
    sq = [c for c in df.columns if c.endswith("SQNR dB")]
    by_type = df.groupby("type")[sq].median().rename(columns=lambda c: c.replace(" SQNR dB", ""))
    overall = df[sq].median().rename(lambda c: c.replace(" SQNR dB", ""))
    keys = ",".join(s if isinstance(s, str) else s.key for s in specs)
    flags = "" if e2e is None else f" --end-to-end --sentences {end_to_end} --neighbours {neighbours}"
    lines = [f"# Formats on {checkpoint['name']}", "",
             f"Command: `rf8lab compare {source} --formats {keys}{flags}`  ",
             f"{_files_line(checkpoint)}; {versions_line(versions('rf8lab', 'numpy', 'pandas', 'tokenizers'))}; "
             f"{time.perf_counter() - t0:.1f} s.", "",
             "Every floating tensor rounded into every format (each scale computed from the tensor itself). SQNR = "
             "10·log10(Σw² / Σ(w − q)²); medians over tensors.", "",
             "## Median SQNR (dB) over all tensors", "",
             md_table(overall.to_frame("median SQNR dB").T.reset_index(drop=True), 2),
             "", "## Median SQNR (dB) by tensor type", "", md_table(by_type.reset_index(), 2), "",
             "Per tensor, with maximum relative errors: `formats.csv`."]
    if e2e is not None:
        table = pd.DataFrame(e2e["formats"]).T.rename_axis("format").reset_index()
        table.to_csv(out / "end_to_end.csv", index=False)
        lines += ["", f"## End to end: sentence embeddings ({e2e['n_sentences']} sentences of CPython's docs)", "",
                  f"{encoder!r}. Every weight matrix (2-D) converted, gains and biases kept float32. Per sentence, "
                  "the cosine similarity of its embedding with float32's (mean, minimum), and the fraction of its "
                  f"{neighbours} nearest neighbours among the other sentences that stay the same.", "",
                  md_table(table, 5), "", "The same table: `end_to_end.csv`."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.md"
