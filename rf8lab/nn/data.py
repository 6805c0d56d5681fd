"""Real data that ships with Python and scikit-learn: CPython's documentation text for a character
language model, and the 8x8 handwritten digits for a ViT. Fixed splits; nothing is downloaded."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def pydoc_text() -> str:
    """CPython's reference documentation (`pydoc_data.topics`), topics joined in sorted order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[k] for k in sorted(topics))


@dataclass
class CharCorpus:
    """Characters -> ids; the first (1 - val_frac) of the text trains, the rest is held out."""
    text: str
    source: str
    val_frac: float = 0.1

    def __post_init__(self):
        if len(self.text) < 100:
            raise ValueError(f"the corpus {self.source} has {len(self.text)} characters; at least 100 are needed")
        self.chars = sorted(set(self.text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.stoi[c] for c in self.text], np.int64)
        cut = int(len(ids) * (1 - self.val_frac))
        self.train, self.val = ids[:cut], ids[cut:]
        self.sha256 = hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, path: str | None = None, val_frac: float = 0.1) -> "CharCorpus":
        """The CPython docs by default, or any UTF-8 text file."""
        if path is None:
            return cls(pydoc_text(), "pydoc_data.topics", val_frac)
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"text file {path} does not exist")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not UTF-8 text ({e})") from None
        return cls(text, str(p), val_frac)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def batch(self, rng: np.random.Generator, batch_size: int, block: int):
        """Random training windows: inputs (B, T) and the next characters (B, T)."""
        idx = rng.integers(0, len(self.train) - block - 1, batch_size)[:, None] + np.arange(block)
        return self.train[idx], self.train[idx + 1]

    def val_batches(self, batch_size: int, block: int, max_windows: int = 256):
        """Fixed, non-overlapping held-out windows (the same ones every time)."""
        n = min(max_windows, (len(self.val) - 1) // block)
        idx = np.arange(n * block).reshape(n, block)  # window i covers [i * block, (i + 1) * block)
        for i in range(0, n, batch_size):
            yield self.val[idx[i: i + batch_size]], self.val[idx[i: i + batch_size] + 1]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass
class Digits:
    """scikit-learn's load_digits(): 1797 images, 8x8, values 0..16 scaled to [0, 1]; a fixed,
    stratified split with `test_size` of the images held out."""
    test_size: float = 0.2
    split_seed: int = 0

    def __post_init__(self):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)
        y = d.target.astype(np.int64)
        self.x_train, self.x_test, self.y_train, self.y_test = train_test_split(
            x, y, test_size=self.test_size, random_state=self.split_seed, stratify=y)
        self.sha256 = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
        self.source = "sklearn.datasets.load_digits"

    n_classes = 10

    def batch(self, rng: np.random.Generator, batch_size: int):
        i = rng.integers(0, len(self.y_train), batch_size)
        return self.x_train[i], self.y_train[i]

    def val_batches(self, batch_size: int):
        for i in range(0, len(self.y_test), batch_size):
            yield self.x_test[i: i + batch_size], self.y_test[i: i + batch_size]


def pydoc_sentences(n: int = 1000, min_chars: int = 40, max_chars: int = 300) -> list[str]:
    """The first n distinct sentences of CPython's documentation topics: paragraphs joined, split
    after '.', '!' or '?' before a capital letter, kept if they are 40-300 characters of prose (fewer than n
    if the docs have fewer)."""
    import re

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of sentences must be an integer >= 1, got {n!r}")

    seen, out = set(), []
    for para in re.split(r"\n\s*\n", pydoc_text()):
        text = " ".join(para.split())
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
            if min_chars <= len(s) <= max_chars and s[0].isupper() and s[-1] in ".!?" and s not in seen \
                    and sum(c.isalpha() or c == " " for c in s) > 0.85 * len(s):
                seen.add(s)
                out.append(s)
                if len(out) == n:
                    return out
    return out
