"""The on-disk cache of the reference-filled tables: a cached entry gives exactly what the reference builds,
a damaged or foreign entry is rebuilt, and no directory means no cache (never an error)."""
import numpy as np
import pytest

from rf8lab.codec import kernels, table_cache


def _fresh(name, rounding, monkeypatch):
    monkeypatch.setenv("RF8LAB_CACHE_DIR", "off")
    return kernels.tables.__wrapped__(name, rounding)


def _equal(a, b):
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        else:
            assert x == y


@pytest.mark.parametrize("name,rounding", [("rf8", "nearest"), ("e4m3", "toward-positive"), ("int8", "to-odd")])
def test_a_cached_table_equals_the_reference_build(name, rounding, tmp_path, monkeypatch):
    fresh = _fresh(name, rounding, monkeypatch)
    monkeypatch.setenv("RF8LAB_CACHE_DIR", str(tmp_path))
    stored = kernels.tables.__wrapped__(name, rounding)
    [entry] = tmp_path.glob("tables-*.npz")
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, renamed
    loaded = kernels.tables.__wrapped__(name, rounding)
    _equal(fresh, stored)
    _equal(fresh, loaded)


def test_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch):
    fresh = _fresh("e5m2", "nearest", monkeypatch)
    monkeypatch.setenv("RF8LAB_CACHE_DIR", str(tmp_path))
    kernels.tables.__wrapped__("e5m2", "nearest")
    [entry] = tmp_path.glob("tables-*.npz")
    for damage in (b"not an npz file", entry.read_bytes()[:100]):
        entry.write_bytes(damage)
        _equal(fresh, kernels.tables.__wrapped__("e5m2", "nearest"))
        _equal(fresh, kernels.tables.__wrapped__("e5m2", "nearest"))  # and stored again, whole


def test_an_entry_with_other_fields_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("RF8LAB_CACHE_DIR", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3)}

    assert table_cache.cached_arrays("t", "one", ("a",), build)["a"].tolist() == [0, 1, 2]
    assert table_cache.cached_arrays("t", "one", ("a",), build)["a"].tolist() == [0, 1, 2]
    assert len(calls) == 1
    path = tmp_path / table_cache.entry_name("t", "one")
    np.savez(path, b=np.arange(3))  # the same name, other contents
    assert table_cache.cached_arrays("t", "one", ("a",), build)["a"].tolist() == [0, 1, 2]
    assert len(calls) == 2


def test_entries_are_named_by_what_they_depend_on():
    names = {table_cache.entry_name("tables", d) for d in ("rf8 nearest", "rf8 log", "e4m3 nearest")}
    assert len(names) == 3
    assert table_cache.entry_name("tables", "rf8 nearest") == table_cache.entry_name("tables", "rf8 nearest")


def test_no_writable_directory_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("RF8LAB_CACHE_DIR", str(blocker / "sub"))
    out = table_cache.cached_arrays("t", "x", ("a",), lambda: {"a": np.ones(2)})
    assert out["a"].tolist() == [1.0, 1.0]
    monkeypatch.setenv("RF8LAB_CACHE_DIR", "off")
    assert table_cache.cache_dir() is None
    monkeypatch.delenv("RF8LAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert table_cache.cache_dir() == tmp_path / "rf8lab"


def test_one_directory_keeps_every_rounding_apart(tmp_path, monkeypatch):
    fresh = {r: _fresh("e4m3", r, monkeypatch) for r in kernels.DETERMINISTIC}
    monkeypatch.setenv("RF8LAB_CACHE_DIR", str(tmp_path))
    for _ in range(2):  # stored, then read back
        for r in kernels.DETERMINISTIC:
            _equal(fresh[r], kernels.tables.__wrapped__("e4m3", r))
    assert len(list(tmp_path.glob("tables-*.npz"))) == len(kernels.DETERMINISTIC)
