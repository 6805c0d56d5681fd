"""Every committed report page renders from its JSON alone, byte for byte: rerendering can never keep an old
number or conclusion (the figures are drawn again too, into a temporary folder)."""
import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"


def _script(name, folder="analysis"):
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _render_pipeline(out):
    assert _script("pipeline_study").main(["--render", "--out", str(out)]) == 0


def _render_init(out):
    assert _script("init_study").main(["--render", "--out", str(out)]) == 0


def _render_formats(out):
    from rf8lab.reports.format_study import render

    render(out)


def _render_fit(out):
    from rf8lab.reports.fit import render

    render(out)


def _render_scale(out):
    assert _script("scale_study").main(["--render", "--out", str(out)]) == 0


def _render_bench_checkpoint(out):
    _script("bench_checkpoint", "benchmarks").render(out)


@pytest.mark.parametrize("render, folder, json_name, page", [
    (_render_pipeline, "", "pipeline.json", "pipeline.md"),
    (_render_init, "", "init_study.json", "init_study.md"),
    (_render_formats, "", "format_comparison.json", "format_comparison.md"),
    (_render_fit, "minilm_fit", "fits.json", "report.md"),
    (_render_bench_checkpoint, "", "bench_checkpoint.json", "bench_checkpoint.md"),
    (_render_scale, "", "scale_study.json", "scale_study.md"),
], ids=["pipeline", "init_study", "format_comparison", "minilm_fit", "bench_checkpoint", "scale_study"])
def test_committed_page_renders_from_its_json(tmp_path, render, folder, json_name, page):
    shutil.copy(REPORTS / folder / json_name, tmp_path / json_name)
    render(tmp_path)
    assert (tmp_path / page).read_text() == (REPORTS / folder / page).read_text(), \
        f"reports/{folder + '/' if folder else ''}{page} is not what its JSON renders to: rerun --render"
