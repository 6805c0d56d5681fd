"""Packed checkpoints: rf8lab pack / unpack round trips and their errors."""
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.cli import main as cli
from rf8lab.io.files import CheckpointError
from rf8lab.io.safetensors import write as write_safetensors


def test_pack_unpack(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = {"a.weight": rng.normal(0, 0.02, (128, 256)).astype(np.float32), "a.bias": np.ones(128, np.float32)}
    src, dst, back = tmp_path / "in.safetensors", tmp_path / "p.safetensors", tmp_path / "u.safetensors"
    write_safetensors(src, t)
    assert cli(["pack", str(src), "-o", str(dst)]) == 0
    assert "3.9" in capsys.readouterr().out or src.stat().st_size > 3.8 * dst.stat().st_size
    assert src.stat().st_size > 3.8 * dst.stat().st_size
    assert cli(["unpack", str(dst), "-o", str(back)]) == 0
    from rf8lab.io.checkpoints import load

    u = load(str(back))
    np.testing.assert_array_equal(u["a.weight"], rl.quantize(t["a.weight"], "rf8", scale="channel"))
    np.testing.assert_array_equal(u["a.bias"], t["a.bias"])
    assert cli(["unpack", str(src), "-o", str(back)]) == 1
    assert "not an rf8lab pack file" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(dst.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        from rf8lab.io.pack import unpack

        unpack(bad)


def test_pack_keeps_the_spec_it_is_given(tmp_path, capsys):
    from rf8lab.io.pack import unpack

    w = np.random.default_rng(1).normal(0, 0.02, (16, 64)).astype(np.float32)
    src, dst = tmp_path / "in.safetensors", tmp_path / "p.safetensors"
    write_safetensors(src, {"w": w})
    assert cli(["pack", str(src), "-o", str(dst), "--fmt", "rf8:log:none"]) == 0
    assert "rf8:log:none" in capsys.readouterr().out
    np.testing.assert_array_equal(unpack(dst)["w"], rl.quantize(w, "rf8:log:none"))
    assert cli(["pack", str(src), "-o", str(dst), "--fmt", "e4m3:block:block=16"]) == 0
    np.testing.assert_array_equal(unpack(dst)["w"], rl.quantize(w, "e4m3:block:block=16"))
    assert cli(["unpack", str(dst), "-o", str(tmp_path / "u.safetensors"), "--dtype", "int32"]) == 1
    assert capsys.readouterr().err.startswith("error: ")
