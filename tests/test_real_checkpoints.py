"""The checkpoint readers on real models this project did not choose, shipped inside PyPI packages (installed
with --no-deps by the Makefile, never committed): silero-vad's safetensors and ONNX files, facenet-pytorch's
torch state dicts. The packages are only located, not imported (their own dependencies are not installed)."""
import importlib.util
import json
from pathlib import Path

import pytest

from rf8lab.cli import main as cli
from rf8lab.io import checkpoints


def _data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"pip install --no-deps {package.replace('_', '-')}")
    return Path(spec.submodule_search_locations[0]) / "data"


def _floats(arrays):
    return {k: v for k, v in arrays.items() if v.dtype.kind == "f" and v.size >= 8}


def test_silero_vad_reads_from_safetensors_and_onnx(tmp_path, capsys):
    pytest.importorskip("onnx", reason="pip install onnx (rf8lab[checkpoints])")
    data = _data("silero_vad")
    st = _floats(checkpoints.load(data / "silero_vad_16k.safetensors"))
    ox = _floats(checkpoints.load(data / "silero_vad_16k_op15.onnx"))
    # two exports of the 16 kHz network: the same weight count and shapes (not the same values: versions)
    assert len(st) == len(ox) == 14 and sum(v.size for v in st.values()) == sum(v.size for v in ox.values())
    assert sorted(v.shape for v in st.values()) == sorted(v.shape for v in ox.values())
    assert len(_floats(checkpoints.load(data / "silero_vad.onnx"))) == 28  # weights in If subgraphs too
    assert cli(["fit", str(data / "silero_vad_16k.safetensors"), "-o", str(tmp_path / "fit"), "--workers", "1"]) == 0


def test_facenet_state_dicts_read_with_weights_only(tmp_path, capsys):
    pytest.importorskip("torch")
    data = _data("facenet_pytorch")
    onet = checkpoints.load(data / "onet.pt")
    assert onet["conv1.weight"].shape == (32, 3, 3, 3) and len(onet) == 21
    assert cli(["fit", str(data / "pnet.pt"), "-o", str(tmp_path / "fit"), "--workers", "1"]) == 0
    run = json.loads((tmp_path / "fit" / "fits.json").read_text())
    assert run["checkpoint"]["name"] == "pnet.pt" and len(run["tensors"]) >= 5
