"""What every reader and writer in rf8lab.io shares: the error they raise and the atomic write."""
from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file and the problem."""


def atomic_write(path: Path, write) -> None:
    """write(tmp) to a temporary file beside `path`, then rename it over `path`: readers see the
    old file or the new one, never half of one; the temporary file goes if writing fails, and one left by
    a killed process (whose pid no longer runs) goes at the next write of the same path."""
    path = Path(path)
    remove_stale_temporaries(path)
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


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete `path.name + ".tmp<pid>"` files beside `path` whose process is gone; returns them."""
    removed = []
    for tmp in Path(path).parent.glob(glob.escape(Path(path).name) + ".tmp*"):
        pid = tmp.name[len(Path(path).name) + 4:]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a pid: keep the file
        return True
    return True
