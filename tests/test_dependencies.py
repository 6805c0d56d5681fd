"""Every third-party import under rf8lab/ is declared in pyproject.toml, and every optional one
(an extra, or a data package installed with --no-deps) fails with a clear ImportError when missing."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _dist(requirement: str) -> str:
    """'numpy>=1.26' -> 'numpy' (PEP 503 normalized)."""
    return _normalize(re.match(r"[A-Za-z0-9._-]+", requirement).group())


def _release(version: str) -> tuple:
    """'2.3' and '2.3.0' are the same release."""
    parts = [int(p) for p in version.strip().split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


CORE = {_dist(r) for r in PYPROJECT["project"]["dependencies"]}
OPTIONAL = ({_dist(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs}
            | {_dist(r) for r in PYPROJECT["tool"]["rf8lab"]["data-packages"]})
DISTS = {k: [_normalize(d) for d in v] for k, v in importlib.metadata.packages_distributions().items()}


def _guarded(node: ast.AST, parents: dict) -> bool:
    """Inside a try whose handlers catch ImportError (or a base of it)?"""
    while node in parents:
        child, node = node, parents[node]
        if isinstance(node, ast.Try) and child in node.body:
            types = [h.type.elts if isinstance(h.type, ast.Tuple) else [h.type] for h in node.handlers]
            names = {ast.unparse(t) if t is not None else "" for ts in types for t in ts}
            if names & {"ImportError", "ModuleNotFoundError", "Exception", ""}:
                return True
    return False


def third_party_imports():
    """(module file, line, top-level name, at module level?, guarded?) for every import under rf8lab/."""
    out = []
    for path in sorted((ROOT / "rf8lab").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("rf8lab", "__future__"):
                    continue
                module_level = parents.get(node) is tree
                out.append((path.relative_to(ROOT), node.lineno, top, module_level, _guarded(node, parents)))
    return out


IMPORTS = third_party_imports()


def test_the_walk_finds_imports():
    tops = {t for _, _, t, _, _ in IMPORTS}
    assert {"numpy", "numba", "scipy", "torch"} <= tops


@pytest.mark.parametrize("where,line,top", [(str(p), n, t) for p, n, t, _, _ in IMPORTS],
                         ids=[f"{p}:{n}:{t}" for p, n, t, _, _ in IMPORTS])
def test_every_import_is_declared(where, line, top):
    dists = DISTS.get(top, [_normalize(top)])
    assert set(dists) & (CORE | OPTIONAL), (
        f"{where}:{line} imports {top} (distribution {dists}), which pyproject.toml does not declare")


def test_optional_imports_inside_functions_are_guarded():
    lazy = [(p, n, t) for p, n, t, module_level, guarded in IMPORTS
            if not module_level and not guarded and not set(DISTS.get(t, [_normalize(t)])) & CORE]
    assert not lazy, f"optional imports outside try/except ImportError (use rf8lab.optional.require): {lazy}"


def test_every_module_imports_or_says_what_to_install_without_the_optional_packages():
    """With every optional package blocked, each rf8lab module either imports or raises an
    ImportError that says what to install."""
    blocked = sorted({t for _, _, t, _, _ in IMPORTS if not set(DISTS.get(t, [_normalize(t)])) & CORE})
    assert "torch" in blocked
    files = {p for p, _, _, _, _ in IMPORTS} | {p.relative_to(ROOT) for p in (ROOT / "rf8lab").rglob("*.py")}
    modules = sorted(".".join(p.with_suffix("").parts).removesuffix(".__init__") for p in files)
    script = f"""
import importlib, sys

class Block:  # as if the optional packages were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Block())
bad = []
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except ImportError as e:
        if "pip install" not in str(e):
            bad.append((module, str(e)))
print(bad)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout


def test_lowest_constraints_are_the_pyproject_lower_bounds():
    """constraints/lowest.txt (`make test-lowest`) pins exactly the lower bound of every requirement."""
    pins = {}
    for line in (ROOT / "constraints" / "lowest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normalize(name)] = _release(version)
    reqs = PYPROJECT["project"]["dependencies"] + [
        r for extra in ("test", "torch") for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    bounds = {_dist(r): _release(re.search(r">=([0-9][0-9.]*)", r).group(1)) for r in reqs}
    assert pins == bounds
