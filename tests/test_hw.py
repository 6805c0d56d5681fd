"""The hardware model (shifts and adds) against exact products; the test vectors against the codec."""
from pathlib import Path

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.cli import main as cli
from rf8lab.hw import model as hw


def test_every_product_is_exact():
    assert hw.check_exhaustive() == 255 * 256 + 255 * 255


def test_fields_and_mac():
    f = hw.fields(0x78)  # 1.5 = 2^0 + 2^-1: E = 15, T = 0, D = 0
    assert (f["E"], f["T"], f["D"], f["shift1"], f["shift2"], f["residual"]) == (15, 0, 0, 19, 18, 1)
    assert hw.product(0x78, 2) == 3 << 19 and hw.product(0xF8, 2) == -(3 << 19)
    assert hw.fields(0x7C)["residual"] == 0 and hw.product(0x7C, 1) == 1 << 19  # T=1, D=0: no residual
    assert hw.product(0x00, 127) == 0
    with pytest.raises(ValueError, match="NaN"):
        hw.product(0x80, 1)
    with pytest.raises(ValueError, match="int8"):
        hw.product(0x78, 128)
    big = hw.product(0x78, -128)
    assert hw.mac([0x78] * 21, [-128] * 21) == 21 * big  # 21 worst cases fit in 32 bits
    assert hw.mac([0x78] * 22, [-128] * 22) == 22 * big + (1 << 32)  # the 22nd wraps
    v, t = hw.rf8_product(0x78, 0x78)
    assert v == int(1.5 * 1.5 * 2 ** 38) and len(t) == 4


def _read(path):
    return [line.strip() for line in Path(path).read_text().splitlines()]


def test_vectors_round_trip(tmp_path, capsys):
    assert cli(["vectors", "-o", str(tmp_path)]) == 0
    assert "mac_rf8_int8.hex" in capsys.readouterr().out
    for rounding in ("nearest", "log"):
        for overflow in ("saturate", "nan"):
            rows = _read(tmp_path / f"encode_{rounding}_{overflow}.hex")
            x = np.array([int(r[:8], 16) for r in rows], np.uint32).view(np.float32)
            codes = np.array([int(r[8:], 16) for r in rows], np.uint8)
            assert len(rows) > 5000
            np.testing.assert_array_equal(
                codes, rl.encode(x, "rf8", rounding=rounding, overflow=overflow, scale=None).codes)
            sub = slice(0, None, 7)  # and a seventh of them through the exact reference
            ref = rl.encode(x[sub], "rf8", rounding=rounding, overflow=overflow, scale=None, backend="reference").codes
            np.testing.assert_array_equal(codes[sub], ref)
    rows = _read(tmp_path / "encode_stochastic_saturate.hex")
    x = np.array([int(r[:8], 16) for r in rows], np.uint32).view(np.float32)
    bits = np.array([int(r[8:16], 16) for r in rows], np.uint32)
    codes = np.array([int(r[16:], 16) for r in rows], np.uint8)
    np.testing.assert_array_equal(codes, rl.encode(x, "rf8", rounding="stochastic", scale=None, random_bits=bits).codes)
    dec = _read(tmp_path / "decode.hex")
    vals = np.array([int(r[2:], 16) for r in dec], np.uint32).view(np.float32)
    ref = rl.value_table("rf8").astype(np.float32)
    ok = (vals == ref) | (np.isnan(vals) & np.isnan(ref))
    assert ok.all() and [int(r[:2], 16) for r in dec] == list(range(256))
    mac = _read(tmp_path / "mac_rf8_int8.hex")
    table = hw.products_table()
    for r in mac[::97]:
        c, a, p = int(r[:2], 16), int(r[2:4], 16), int(r[4:], 16)
        a = a - 256 if a > 127 else a
        p = p - (1 << 32) if p >= 1 << 31 else p
        assert p == table[c, a + 128] and p * 2.0 ** -19 == float(ref[c]) * a
    assert len(mac) == 255 * 256 and len(_read(tmp_path / "mul_rf8_rf8.hex")) == 255 * 255


def test_synthesis_table_in_docs_matches_the_report():
    """docs/rf8-hardware.md quotes reports/hardware.json (analysis/hw_synth.py), number for number."""
    import json
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "rf8-hardware.md").read_text()
    rows = {r["design"]: r for r in json.loads((root / "reports" / "hardware.json").read_text())["designs"]}
    quoted = [ln for ln in doc.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip() in rows]
    assert len(quoted) >= 9
    for line in quoted:
        r = rows[line.split("|")[1].strip()]
        cells = r["liberty"]
        assert line == (f"| {r['design']} | {r['gate_count']} | {r['transistors']} | {r['gate_depth']} | "
                        f"{cells['area']:.0f} | {cells['delay_ns']} |")


def test_every_vector_line_is_what_the_rtl_testbench_expects(tmp_path):
    """The RTL testbench's expected outputs (rf8lab.hw.flow) are the published vectors: every product line of
    `rf8lab vectors`, and every nearest/saturating encode line whose float32 input is a bfloat16 value (the
    bfloat16 encoder's inputs), so a circuit that passes the testbench passes those vector files."""
    from rf8lab.hw import flow, vectors
    vectors.write(tmp_path)
    p, nan = flow.expected_products("rf8_x_int8_two_shifts")
    mac = _read(tmp_path / "mac_rf8_int8.hex")
    assert len(mac) == 255 * 256
    for r in mac:
        c, a, v = int(r[:2], 16), int(r[2:4], 16), int(r[4:], 16)
        assert v == int(p[c, a]) & 0xFFFFFFFF and not nan[c, a]
    q, _ = flow.expected_products("rf8_x_rf8")
    mul = _read(tmp_path / "mul_rf8_rf8.hex")
    assert len(mul) == 255 * 255
    assert all(int(r[4:], 16) == int(q[int(r[:2], 16), int(r[2:4], 16)]) & (2 ** 64 - 1) for r in mul)
    codes = flow.expected_encode(0)
    lines = [r for r in _read(tmp_path / "encode_nearest_saturate.hex") if r[4:8] == "0000"]
    assert len(lines) > 400  # every code's value and most thresholds are bfloat16 values
    for r in lines:
        assert codes[int(r[:4], 16)] == int(r[8:], 16), r


def test_the_encoders_expected_codes_give_back_every_rf8_value():
    import ml_dtypes

    import rf8lab as rl
    from rf8lab.hw import flow
    values = rl.value_table("rf8")
    values = values[np.isfinite(values)]
    patterns = values.astype(ml_dtypes.bfloat16).view(np.uint16)  # exact: RF8 values have 5 significant bits
    assert np.array_equal(rl.value_table("rf8")[flow.expected_encode(0)[patterns]], values)
