"""No name a package exports hides one of its own modules (as `rl.formats()` once hid rf8lab/formats.py,
so that `rf8lab.formats.FORMATS` raised AttributeError). Checked in a fresh interpreter: once a test has
imported a submodule, Python binds the package attribute to it and would hide the problem."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import importlib, importlib.util, pkgutil, types
import rf8lab
packages = ["rf8lab"] + [m.name for m in pkgutil.walk_packages(rf8lab.__path__, "rf8lab.") if m.ispkg]
hidden = []
for name in packages:
    if name == "rf8lab.torch" and importlib.util.find_spec("torch") is None:
        continue
    pkg = importlib.import_module(name)  # only the package: its submodules as its __init__ imports them
    for m in pkgutil.iter_modules(pkg.__path__):
        value = getattr(pkg, m.name, None)
        if value is not None and not isinstance(value, types.ModuleType):
            hidden.append(name + "." + m.name)
print(hidden)
"""


def test_no_export_hides_a_module():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", f"exports that hide modules: {res.stdout}"
