"""analysis/scale_study.py's machinery on two tiny sizes (--quick): every arm and seed run once and kept in the
JSON, a second call skips them, a spent budget starts nothing, and the page renders from the JSON alone."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _study(monkeypatch=None):
    if monkeypatch is not None:  # the study's spawned workers import it by name
        monkeypatch.syspath_prepend(str(ROOT / "analysis"))
    spec = importlib.util.spec_from_file_location("scale_study", ROOT / "analysis" / "scale_study.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_study"] = module  # the worker processes find run_one by its module's name
    spec.loader.exec_module(module)
    return module


def test_quick_study_runs_resumes_and_renders(tmp_path, capsys, monkeypatch):
    study = _study(monkeypatch)
    arms = len(study.ARMS)
    monkeypatch.setitem(study.ARMS, "broken", ("gg", {"shape": -1.0, "xi": 1.0, "fan": "in"}, 0.0))  # it fails
    args = ["--quick", "--seeds", "2", "--out", str(tmp_path), "--work", str(tmp_path / "work")]
    assert study.main(args) == 0
    d = json.loads((tmp_path / "scale_study.json").read_text())
    assert sorted(d["failed"]) == [f"{s}/broken/seed{i}" for s in ("1x16", "1x32") for i in (0, 1)]
    assert len(d["runs"]) == 2 * arms * 2 and not any((tmp_path / "work").glob("*/*"))
    fitted = {r["size"]: r["init_kw"]["shape"] for r in d["runs"].values() if r["arm"] == "gg fitted"}
    for size, shape in fitted.items():  # `gg fitted` drew from the shape fitted to that size's normal model
        assert shape == d["runs"][f"{size}/normal 0.02/seed0"]["fitted_shape"] and 0.1 < shape < 5
    r = d["runs"]["1x32/backslash lambda=10/seed1"]
    assert r["lam"] == 10 and r["history"][-1][0] == d["sizes"][1]["steps"] and np.isfinite(r["final_val_loss"])
    twin = d["runs"]["1x32/gg nu=1 xi=1/seed1"]
    assert r["history"][0][1] != twin["history"][0][1]  # the rate term changed the training
    page = (tmp_path / "scale_study.md").read_text()
    assert "28 of 32 runs" in page and "Failed** (4 runs" in page and "![scale study](scale_study.png)" in page
    # a second call finds everything done (the failed runs are not retried): it trains nothing, keeps the runs
    assert study.main(args) == 0
    d2 = json.loads((tmp_path / "scale_study.json").read_text())
    assert d2["runs"] == d["runs"] and d2["sessions"][-1]["runs"] == 0 and len(d2["sessions"]) == 2
    # a lost run is done again; a spent budget starts nothing
    del d2["runs"]["1x16/xavier/seed0"]
    (tmp_path / "scale_study.json").write_text(json.dumps(d2))
    assert study.main(args + ["--budget-hours", "1e-9"]) == 0
    assert "1x16/xavier/seed0" not in json.loads((tmp_path / "scale_study.json").read_text())["runs"]
    assert study.main(args) == 0
    again = json.loads((tmp_path / "scale_study.json").read_text())["runs"]["1x16/xavier/seed0"]
    assert again["history"] == d["runs"]["1x16/xavier/seed0"]["history"]  # the same seed gives the same run
    # the page comes from the JSON alone, and another study's settings are refused
    (tmp_path / "scale_study.md").unlink()
    assert study.main(["--render", "--out", str(tmp_path)]) == 0 and (tmp_path / "scale_study.md").exists()
    capsys.readouterr()
    assert study.main(["--quick", "--seeds", "3", "--out", str(tmp_path), "--work", str(tmp_path / "work")]) == 1
    assert capsys.readouterr().err.startswith("error:")


def test_a_run_stopped_by_the_budget_resumes_to_the_same_result(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # as in the study's workers
        _stop_and_resume(tmp_path, monkeypatch)


def _stop_and_resume(tmp_path, monkeypatch):
    study = _study()
    from rf8lab.nn.data import CharCorpus

    p = {**study.plan((1, 16), CharCorpus.load().vocab_size, quick=True), "steps": 40}
    job = {"key": "1x16/xavier/seed0", "plan": p, "arm": "xavier", "seed": 0, "init": "xavier", "init_kw": {},
           "lam": 0.0, "work": str(tmp_path / "a"), "deadline": 1.0, "quick": True}
    whole = study.run_one({**job, "work": str(tmp_path / "b"), "deadline": float("inf")})
    calls = iter(range(10 ** 6))
    monkeypatch.setattr(study.time, "time", lambda: 0.0 if next(calls) < 7 else 2.0)  # stop after step 7
    with pytest.raises(study.Stopped) as stop:
        study.run_one(job)
    assert stop.value.args[0] == job["key"] and stop.value.args[1] > 0
    assert (study.run_folder(job) / "checkpoint.safetensors").exists()  # steps 1-6 kept (checkpoints every 2)
    monkeypatch.undo()
    resumed = study.run_one({**job, "deadline": float("inf")})
    assert resumed["history"] == whole["history"] and resumed["sizes"] == whole["sizes"]


def test_trend_and_intervals():
    study = _study()
    rows = [{"params": n, "v": [0.1 * k + e for e in (-0.01, 0.0, 0.01)]} for k, n in enumerate((1e4, 1e5, 1e6))]
    t = study.trend(rows, lambda r: r["v"])  # per-size means on a line: slope exact, no spread between sizes
    assert abs(t["slope"] - 0.1) < 1e-12 and t["sizes"] == 3 and t["slope_ci"] < 1e-12
    assert abs(study.crossing(t, 0.3) - 1e7) / 1e7 < 1e-9
    rows[1]["v"] = [0.13] * 3  # a size off the line: the interval is t(0.975, 1) times the slope's error
    t = study.trend(rows, lambda r: r["v"])
    from scipy import stats

    fit = stats.linregress([4, 5, 6], [0.0, 0.13, 0.2])
    assert abs(t["slope"] - fit.slope) < 1e-12 and abs(t["slope_ci"] - 12.706204736174698 * fit.stderr) < 1e-9
    assert study.trend(rows[:2], lambda r: r["v"]) is None  # two sizes make no trend
    m, h, n = study.mean_ci([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and abs(h - 4.302652729911275 / np.sqrt(3)) < 1e-9
    assert study.steps_to([[10, 3.0], [20, 2.0], [30, 1.0]], 1.5) == 25.0
    assert np.isnan(study.steps_to([[10, 3.0]], 1.0))
