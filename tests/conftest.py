"""The `codec` fixture: a test that takes it runs on every implementation of the codec."""
import importlib.util

import pytest
from hypothesis import Phase, settings

from .helpers import Codec

# Hypothesis's explain phase traces every line after a failure, the Numba compiler's included: minutes per
# failure. Failures still shrink and report their example.
settings.register_profile("rf8lab", phases=[p for p in Phase if p != Phase.explain])
settings.load_profile("rf8lab")

BACKENDS = ["reference", "numba", "vectorized"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def codec(request):
    return Codec(request.param)
