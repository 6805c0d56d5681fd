"""Bad input, class 6: a write killed half way leaves a temporary file; the next write of the same path
removes it (only ours: `<name>.tmp<pid>` of a process that no longer runs)."""
import os
import subprocess
import sys

import numpy as np

from rf8lab.io import safetensors
from rf8lab.io.files import remove_stale_temporaries


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_temporary_goes_at_the_next_write(tmp_path):
    target = tmp_path / "model.safetensors"
    stale = tmp_path / f"model.safetensors.tmp{_dead_pid()}"
    stale.write_bytes(b"half a checkpoint")
    alive = tmp_path / f"model.safetensors.tmp{os.getppid()}"  # a running process's file is left alone
    alive.write_bytes(b"still being written")
    other = tmp_path / "other.safetensors.tmp1"
    other.write_bytes(b"not this path's")
    safetensors.write(target, {"w": np.ones(3, np.float32)})
    assert not stale.exists() and alive.exists() and other.exists() and target.exists()
    assert remove_stale_temporaries(target) == []
