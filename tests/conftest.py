"""The `codec` fixture: a test that takes it runs on every implementation of the codec."""
import importlib.util
import os

# Two pytest-xdist workers on two cores, each with two OpenMP threads (Numba's parallel kernels, torch): an
# OpenMP thread that has finished spins for its next task by default, taking the core from the other worker.
# Passive waiting measured 2.2x less wall time on the codec tests (146 s against 66 s, warm Numba cache). Set
# before anything imports torch or Numba loads its OpenMP pool (at the first parallel kernel call).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from hypothesis import Phase, settings

from .helpers import Codec

# Triton reads TRITON_INTERPRET when it is first imported (its own jit functions are made then), and torch's
# compiler or torchao may import it before rf8lab.torch.triton_kernels sets it: set it here, before any test
# module, so that the Triton kernels run in the interpreter wherever there is no GPU.
if importlib.util.find_spec("torch") and importlib.util.find_spec("triton"):
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")

# Hypothesis's explain phase traces every line after a failure, the Numba compiler's included: minutes per
# failure. Failures still shrink and report their example.
settings.register_profile("rf8lab", phases=[p for p in Phase if p != Phase.explain])
settings.load_profile("rf8lab")

BACKENDS = ["reference", "numba", "vectorized"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def codec(request):
    return Codec(request.param)
