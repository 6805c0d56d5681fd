"""An on-disk cache of the kernels' reference-filled tables, so that a new process does not redo the exact
(Fraction) computation of a table it has built before (about 0.4 s a format and rounding).

The cache works like Numba's: an entry is named by a SHA-256 of everything the table depends on (the
caller's description of the format and rounding, and the source of the modules that compute it), so an
edit to any of them, or another format with the same name, can never read a stale entry. Entries are
written atomically (a temporary file, then a rename); one that cannot be read, or does not hold the fields
asked for, is rebuilt. The directory is $RF8LAB_CACHE_DIR, else $XDG_CACHE_HOME/rf8lab, else
~/.cache/rf8lab; RF8LAB_CACHE_DIR=off, or a directory that cannot be written, turns the cache off.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

# The modules whose code decides a table's entries (the reference rounding rules and the formats' meaning).
_PACKAGE = Path(__file__).resolve().parent.parent
_SOURCES = ("codec/reference.py", "codec/kernels.py", "policies.py", "formats/format.py")


def cache_dir() -> Path | None:
    """The cache directory, or None when caching is off."""
    env = os.environ.get("RF8LAB_CACHE_DIR")
    if env == "off":
        return None
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rf8lab"


@lru_cache(maxsize=None)
def _source_digest() -> bytes:
    h = hashlib.sha256()
    for rel in _SOURCES:
        h.update(rel.encode() + b"\0" + (_PACKAGE / rel).read_bytes())
    return h.digest()


def entry_name(kind: str, description: str) -> str:
    """File name of an entry: its kind, then the SHA-256 of the sources and the description."""
    return f"{kind}-{hashlib.sha256(_source_digest() + description.encode()).hexdigest()[:32]}.npz"


def cached_arrays(kind: str, description: str, fields: tuple[str, ...],
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays `build()` returns for `description`, read from the cache where an entry holds every field,
    else built and stored. `description` must name everything the arrays depend on beyond the sources."""
    root = cache_dir()
    path = None if root is None else root / entry_name(kind, description)
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if set(z.files) == set(fields):
                    return {f: z[f] for f in fields}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # a damaged entry: rebuilt below
            pass
    arrays = build()
    if path is not None:
        _store(path, arrays)
    return arrays


def _store(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
        tmp = None
    except OSError:  # read-only or full: the cache is an optimization, the caller has its arrays
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
