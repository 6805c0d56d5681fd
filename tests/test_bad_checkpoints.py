"""Bad input, class 3: safetensors headers that the safetensors package would refuse are refused here too,
with CheckpointError naming the file, never read as weights and never a raw Python error."""
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rf8lab.cli import main as cli
from rf8lab.io import checkpoints, safetensors
from rf8lab.io.files import CheckpointError

GOOD = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "I8", "shape": [8], "data_offsets": [24, 32]}}
junk = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(-40, 40), max_size=3))


def _file(tmp_path, head, data=b"\0" * 32):
    raw = json.dumps(head).encode()
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return p


def test_a_good_header_reads(tmp_path):
    got = checkpoints.load(_file(tmp_path, GOOD))
    assert got["a"].shape == (2, 3) and got["b"].dtype == np.int8


@settings(max_examples=300, deadline=None)
@given(tensor=st.sampled_from(["a", "b"]), key=st.sampled_from(["dtype", "shape", "data_offsets", None]),
       value=junk, data_len=st.integers(0, 40))
def test_mutated_headers_read_exactly_or_are_refused(tmp_path_factory, tensor, key, value, data_len):
    head = json.loads(json.dumps(GOOD))
    if key is None:
        head[tensor] = value
    else:
        head[tensor][key] = value
    p = _file(tmp_path_factory.mktemp("h"), head, b"\1" * data_len)
    try:
        got = safetensors.read(p)
    except CheckpointError as e:
        assert str(p) in str(e)
        return
    # read: then the header was valid, every byte is a tensor's and each tensor is exactly its bytes
    assert data_len == 32 and sum(a.nbytes for a in got.values()) == 32


@pytest.mark.parametrize("head, match", [
    ([1, 2], "not a JSON object"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, "overlap or leave a gap"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 0]}}, "shape"),
    ({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, "shape"),
    ({"a": "tensor"}, "is str"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"k": 1}}, "__metadata__"),
])
def test_what_the_reference_library_refuses(tmp_path, head, match):
    with pytest.raises(CheckpointError, match=match):
        checkpoints.load(_file(tmp_path, head, b"\0" * 8 if isinstance(head, dict) and "b" not in head else
                               b"\0" * 12))


def test_directories_and_empty_packs_are_clear_errors(tmp_path, capsys):
    (tmp_path / "x.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="is a folder with no .*index.json and 0 checkpoint files"):
        checkpoints.load(tmp_path / "x.safetensors")
    only_bias = tmp_path / "b.safetensors"
    safetensors.write(only_bias, {"bias": np.ones(4, np.float32)})
    assert cli(["pack", str(only_bias), "-o", str(tmp_path / "p.safetensors")]) == 1
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "p.safetensors").exists()
