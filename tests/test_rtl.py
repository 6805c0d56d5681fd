"""The Verilog in rf8lab/hw/rtl/ against the Python model and the codec, simulated with cocotb on Icarus
Verilog: every design on a seeded eighth of its inputs (the decoder on all 256 codes), and two gate-level
netlists from yosys. analysis/hw_synth.py runs every input of every design, on the RTL and on every netlist.

Without the tools the tests skip, naming the install command; under CI=true a missing tool fails."""
import pytest

from rf8lab.hw import flow as rtl
from rf8lab.hw import model

MISSING = rtl.missing_tools()
if MISSING:
    message = f"the RTL flow needs {', '.join(MISSING)}: {rtl.INSTALL}"
    if rtl.in_ci():
        raise RuntimeError(f"CI=true and {message}")
    pytestmark = pytest.mark.skip(reason=message)


@pytest.mark.parametrize("name", sorted(rtl.DESIGNS))
def test_rtl_equals_the_model(name, tmp_path):
    sweep = "full" if rtl.DESIGNS[name].kind == "decode" else "reduced"
    rtl.simulate(name, tmp_path, sweep=sweep, scale_exps=(0, -20, 100, -128))


@pytest.mark.parametrize("name", sorted(rtl.DESIGNS))
def test_rtl_is_lint_clean(name):
    assert rtl.lint(name) == ""


@pytest.mark.parametrize("name", ["rf8_x_int8_significand_first", "mac_e4m3"])
def test_gate_level_netlist_equals_the_model(name, tmp_path):
    result = rtl.synthesize(name, tmp_path / "synth")
    assert result["gate_count"] > 0 and result["transistors"] > 0 and result["aig_and"] > 0
    assert result["flops"] == (33 if name.startswith("mac") else 0)  # the accumulator and the NaN flag
    rtl.simulate(name, tmp_path / "sim", netlist=tmp_path / "synth" / "netlist.v", sweep="reduced")


def test_a_wrong_product_is_caught(tmp_path, monkeypatch):
    """The testbench fails on one wrong output: the expected table off by one in one entry."""
    p, nan = rtl.expected_products("rf8_x_int8_two_shifts")
    assert p[0x7F, 0x80] == model.product(0x7F, -128)
    wrong = p.copy()
    wrong[0x00, 0x00] += 1  # the first pair, which every sweep drives
    monkeypatch.setattr(rtl, "expected_products", lambda name: (wrong, nan))
    with pytest.raises(AssertionError, match="differs from the model"):
        rtl.simulate("rf8_x_int8_two_shifts", tmp_path, sweep="reduced")


def test_the_encoders_expected_codes_give_back_every_rf8_value():
    import ml_dtypes
    import numpy as np

    import rf8lab as rl
    values = rl.value_table("rf8")
    values = values[np.isfinite(values)]
    patterns = values.astype(ml_dtypes.bfloat16).view(np.uint16)  # exact: RF8 values have 5 significant bits
    assert np.array_equal(rl.value_table("rf8")[rtl.expected_encode(0)[patterns]], values)


def test_cell_mapped_netlist_equals_the_model_and_has_area_and_delay(tmp_path):
    """The design mapped onto the standard-cell library (area, OpenSTA's delay), simulated with the library's
    own cell models."""
    lib = rtl.liberty()
    if lib is None:
        message = f"no liberty file or OpenSTA: {rtl.LIBERTY_INSTALL}"
        if rtl.in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    result = rtl.area_and_delay("e4m3_x_int8", tmp_path / "cells", lib)
    assert result["area"] > 0 and 0 < result["delay_ns"] < 100
    rtl.simulate("e4m3_x_int8", tmp_path / "sim", netlist=[tmp_path / "cells" / "cells.v", rtl.cell_models(lib)],
                 sweep="reduced")
