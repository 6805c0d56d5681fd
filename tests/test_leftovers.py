"""Bad input, class 6: a write killed half way leaves a temporary file; the next write of the same path
removes it (only ours: `<name>.tmp<pid>` of a process that no longer runs)."""
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=60, deadline=None)
@given(suffix=st.text(alphabet="0123456789abc.-_", min_size=0, max_size=8), prefix=st.sampled_from(["", "x", "m"]))
def test_only_a_dead_writers_own_temporaries_go(tmp_path_factory, suffix, prefix):
    folder = tmp_path_factory.mktemp("t")
    target = folder / "m.safetensors"
    f = folder / f"{prefix}m.safetensors.tmp{suffix}"
    f.write_bytes(b"?")
    removed = remove_stale_temporaries(target)
    ours = prefix == "" and suffix.isdigit() and int(suffix) != os.getpid() and not _alive(int(suffix))
    assert (f in removed) == ours and f.exists() != ours


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
