"""The `codec` fixture: a test that takes it runs on every implementation of the codec."""
import importlib.util

import pytest

from .helpers import Codec

BACKENDS = ["reference", "numba", "vectorized"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def codec(request):
    return Codec(request.param)
