"""No name a package exports hides one of its own modules (as `rl.formats()` once hid rf8lab/formats.py,
so that `rf8lab.formats.FORMATS` raised AttributeError)."""
import importlib
import pkgutil
from types import ModuleType

import pytest

import rf8lab

PACKAGES = ["rf8lab"] + [m.name for m in pkgutil.walk_packages(rf8lab.__path__, "rf8lab.") if m.ispkg]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_export_hides_a_module(package):
    if package == "rf8lab.torch":
        pytest.importorskip("torch")
    pkg = importlib.import_module(package)
    bound = {m.name: getattr(pkg, m.name, None) for m in pkgutil.iter_modules(pkg.__path__)}
    hidden = [name for name, value in bound.items() if value is not None and not isinstance(value, ModuleType)]
    assert not hidden, f"{package} exports names that hide its modules: {hidden}"
