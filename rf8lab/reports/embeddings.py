"""The end-to-end embedding study: a BERT sentence encoder with every weight matrix converted into a format,
against its float32 self, on real sentences (CPython's documentation).

Per format: the cosine similarity of each sentence's embedding with its float32 embedding (mean and minimum),
and the fraction of each sentence's k nearest neighbours (cosine, among the other sentences) that stay the same.
Gains, biases and other 1-D parameters stay float32 (methods.convert).
"""
from __future__ import annotations

import numpy as np

from ..codec.spec import QuantSpec

NEIGHBOURS = 10


def check(n_sentences: int, k: int) -> None:
    """k >= 1 neighbours among the other sentences: at least k + 1 sentences."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"neighbours must be an integer >= 1, got {k!r}")
    if n_sentences < k + 1:
        raise ValueError(f"{k} neighbours need at least {k + 1} sentences, got {n_sentences}")


def _neighbours(e: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each row's k most cosine-similar other rows, from unit-length rows."""
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def study(encoder, sentences: list[str], specs, k: int = NEIGHBOURS, progress=None) -> dict:
    """{"n_sentences", "neighbours", "formats": {label: {cos_mean, cos_min, neighbour_agreement}}} for an
    encoder with `params`, `embed(sentences, params=)` (rf8lab.nn.bert.SentenceEncoder)."""
    from ..methods.convert import convert

    check(len(sentences), k)

    def unit(e):  # cosine does not depend on whether the encoder normalizes
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)

    ref = unit(encoder.embed(sentences).astype(np.float64))
    nn_ref = _neighbours(ref, k)
    out = {"n_sentences": len(sentences), "neighbours": k, "formats": {}}
    for s in specs:
        spec = QuantSpec.parse(s) if isinstance(s, str) else s
        e = unit(encoder.embed(sentences, params=convert(encoder.params, spec)).astype(np.float64))
        cos = np.sum(e * ref, axis=1)
        nn_q = _neighbours(e, k)
        agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(nn_ref, nn_q)])
        out["formats"][spec.label] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                                     "neighbour_agreement": float(agree)}
        if progress:
            progress(s)
    return out
