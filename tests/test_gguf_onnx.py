"""GGUF (llama.cpp) and ONNX checkpoints, read through their own packages: plain tensors exactly as stored,
GGUF's quantized types dequantized by the gguf package (and named by `dequantized`), ONNX initializers
with external data; damaged files are CheckpointError, and fit reads both."""
import json

import ml_dtypes
import numpy as np
import pytest

from rf8lab.cli import main as cli
from rf8lab.io import checkpoints
from rf8lab.io.files import CheckpointError

gguf = pytest.importorskip("gguf", reason="pip install gguf (rf8lab[checkpoints])")
onnx = pytest.importorskip("onnx", reason="pip install onnx (rf8lab[checkpoints])")


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.02, (64, 256)).astype(np.float32), rng.laplace(0, 0.02, (32, 256)).astype(np.float32)


def _gguf(path):
    a, b = _weights()
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tensor("blk.0.attn_q.weight", a)
    w.add_tensor("blk.0.ffn_up.weight", b.astype(np.float16))
    bf = a.astype(ml_dtypes.bfloat16)
    w.add_tensor("blk.0.attn_k.weight", bf.view(np.uint16), raw_shape=bf.shape,
                 raw_dtype=gguf.GGMLQuantizationType.BF16)
    q = gguf.quants.quantize(b, gguf.GGMLQuantizationType.Q8_0)
    w.add_tensor("blk.0.ffn_down.weight", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return a, b, bf, q


def test_gguf_tensors_read_as_stored_and_quantized_ones_dequantized(tmp_path):
    a, b, bf, q = _gguf(tmp_path / "m.gguf")
    got = checkpoints.load(tmp_path / "m.gguf")
    assert got["blk.0.attn_q.weight"].dtype == np.float32 and np.array_equal(got["blk.0.attn_q.weight"], a)
    assert np.array_equal(got["blk.0.ffn_up.weight"], b.astype(np.float16))
    k = got["blk.0.attn_k.weight"]
    assert k.dtype == ml_dtypes.bfloat16 and np.array_equal(k.view(np.uint16), bf.view(np.uint16))
    down = got["blk.0.ffn_down.weight"]
    assert down.shape == b.shape and np.array_equal(down, gguf.quants.dequantize(q, gguf.GGMLQuantizationType.Q8_0))
    assert np.abs(down - b).max() < 1e-3  # Q8_0's grid: close to, not equal to, the original
    assert checkpoints.dequantized(tmp_path / "m.gguf") == {"blk.0.ffn_down.weight": "Q8_0"}


def _onnx(path, external=False):
    from onnx import TensorProto, helper, numpy_helper
    a, b = _weights(1)
    inits = [numpy_helper.from_array(a, "encoder.layer.0.query.weight"),
             numpy_helper.from_array(b.astype(np.float16), "encoder.layer.0.key.weight")]
    node = helper.make_node("MatMul", ["x", "encoder.layer.0.query.weight"], ["y"])
    const = helper.make_node("Constant", [], ["bias"], value=numpy_helper.from_array(np.arange(64, dtype=np.float32)))
    graph = helper.make_graph([const, node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], inits)
    model = helper.make_model(graph)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return a, b


@pytest.mark.parametrize("external", [False, True])
def test_onnx_initializers_read_exactly(tmp_path, external):
    a, b = _onnx(tmp_path / "m.onnx", external)
    assert (tmp_path / "weights.data").exists() == external
    got = checkpoints.load(tmp_path / "m.onnx")
    assert np.array_equal(got["encoder.layer.0.query.weight"], a)
    assert got["encoder.layer.0.key.weight"].dtype == np.float16
    assert np.array_equal(got["encoder.layer.0.key.weight"], b.astype(np.float16))
    assert np.array_equal(got["bias"], np.arange(64, dtype=np.float32))  # a Constant node's tensor


def test_damaged_gguf_and_onnx_are_clear_errors(tmp_path, capsys):
    _gguf(tmp_path / "m.gguf")
    _onnx(tmp_path / "m.onnx", external=True)
    raw = (tmp_path / "m.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.gguf").write_bytes(b"GGUF" + b"\xff" * 64)
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01 not a protobuf" * 8)
    for name in ("cut.gguf", "junk.gguf", "junk.onnx"):
        with pytest.raises(CheckpointError, match="cannot read as"):
            checkpoints.load(tmp_path / name)
    (tmp_path / "weights.data").unlink()  # the external data the model names
    with pytest.raises(CheckpointError, match="cannot read as an ONNX model: weight"):
        checkpoints.load(tmp_path / "m.onnx")
    assert cli(["fit", str(tmp_path / "junk.onnx"), "-o", str(tmp_path / "f")]) == 1
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "f").exists()


def test_fit_reads_gguf(tmp_path, capsys):
    _gguf(tmp_path / "m.gguf")
    assert cli(["fit", str(tmp_path / "m.gguf"), "-o", str(tmp_path / "fit"), "--workers", "1"]) == 0
    run = json.loads((tmp_path / "fit" / "fits.json").read_text())
    assert {t["name"] for t in run["tensors"]} == {"blk.0.attn_q.weight", "blk.0.ffn_up.weight",
                                                     "blk.0.attn_k.weight", "blk.0.ffn_down.weight"}
    assert run["dequantized"] == {"blk.0.ffn_down.weight": "Q8_0"}
    assert "`blk.0.ffn_down.weight` (Q8_0)" in (tmp_path / "fit" / "report.md").read_text()
