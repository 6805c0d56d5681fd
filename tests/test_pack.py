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


@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4", "mxfp6-e3m2", "int4", "uint2:toward-zero", "binary8p3se",
                                 "e2m1:stochastic-even:sr_bits=4"])
def test_narrow_formats_pack_densely_and_unpack_exactly(tmp_path, fmt):
    """Codes narrower than a byte are stored packed (two FP4 per byte, four FP6 in three bytes); NVFP4 keeps
    its E4M3 block codes and float32 tensor scale; unpacking gives the encoded values back."""
    from rf8lab.codec.bitpack import packed_size
    from rf8lab.io.pack import pack, unpack
    from rf8lab.io.safetensors import read

    w = np.abs(np.random.default_rng(2).normal(0, 0.02, (32, 96))).astype(np.float32)
    src, dst = tmp_path / "in.safetensors", tmp_path / "p.safetensors"
    write_safetensors(src, {"w": w})
    spec = rl.QuantSpec.parse(pack(src, dst, fmt)["spec"])
    bits = spec.format.bits
    stored = read(dst)["w"]
    assert stored.dtype == np.uint8 and stored.size == (packed_size(w.size, bits) if bits < 8 else w.size)
    back = unpack(dst)["w"]
    if spec.rounding.stochastic:  # pack's own random bits: each value is one of its two neighbours (w >= 0)
        down = rl.quantize(w, spec.replace(rounding="toward-zero", sr_bits=None))
        up = rl.quantize(w, spec.replace(rounding="toward-positive", sr_bits=None))
        assert ((back == down) | (back == up)).all()
    else:
        np.testing.assert_array_equal(back, rl.quantize(w, spec))


def test_encoded_nbytes_counts_packed_codes_and_scale_codes():
    w = np.random.default_rng(3).normal(0, 0.02, (64, 64)).astype(np.float32)
    assert rl.encode(w, "mxfp4").nbytes == 64 * 64 // 2 + 64 * 2           # 4-bit codes, one E8M0 per 32
    assert rl.encode(w, "nvfp4").nbytes == 64 * 64 // 2 + 64 * 4 + 4       # one E4M3 per 16, one float32
    assert rl.encode(w, "int8", scale="channel").nbytes == 64 * 64 + 64 * 4
    assert rl.encode(w, "rf8", scale=None).nbytes == 64 * 64
