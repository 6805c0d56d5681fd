"""What every reader and writer in rf8lab.io shares: the error they raise and the atomic write."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file and the problem."""


def atomic_write(path: Path, write) -> None:
    """write(tmp) to a temporary file beside `path`, then rename it over `path`: readers see the
    old file or the new one, never half of one; the temporary file goes if writing fails."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def sha256(path) -> str:
    """The file's SHA-256, read in chunks (never the whole file in memory)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
