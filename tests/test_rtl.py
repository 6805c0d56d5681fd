"""The Verilog in rf8lab/hw/rtl/ against the Python model and the codec, simulated with cocotb on Icarus
Verilog: every design on a seeded eighth of its inputs (the decoder on all 256 codes), and two gate-level
netlists from yosys. analysis/hw_synth.py runs every input of every design, on the RTL and on every netlist.

Without the tools the tests skip, naming the install command; under CI=true a missing tool fails."""
import pytest

from rf8lab.hw import flow as rtl
from rf8lab.hw import model

MISSING = rtl.missing_tools()


@pytest.fixture(autouse=True)
def tools():
    """Each test skips without the tools, naming the install command; under CI=true each fails instead."""
    if MISSING:
        message = f"the RTL flow needs {', '.join(MISSING)}: {rtl.INSTALL}"
        if rtl.in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


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


@pytest.mark.parametrize("entry", ["product", "nan"])
def test_a_wrong_output_is_caught(tmp_path, monkeypatch, entry):
    """The testbench fails on one wrong output: the expected table off in one entry, a product or a NaN flag."""
    p, nan = rtl.expected_products("rf8_x_int8_two_shifts")
    assert p[0x7F, 0x80] == model.product(0x7F, -128)
    wrong_p, wrong_nan = p.copy(), nan.copy()
    if entry == "product":
        wrong_p[0x00, 0x00] += 1  # the first pair, which every sweep drives
    else:
        wrong_nan[0xFF, 0xFF] = True  # the last pair, which every sweep drives too
    monkeypatch.setattr(rtl, "expected_products", lambda name: (wrong_p, wrong_nan))
    with pytest.raises(AssertionError, match="differs from the model"):
        rtl.simulate("rf8_x_int8_two_shifts", tmp_path, sweep="reduced")


def test_a_wrong_netlist_is_caught(tmp_path):
    """A gate-level netlist with one gate changed fails the testbench."""
    rtl.synthesize("e4m3_x_int8", tmp_path / "synth")
    netlist = tmp_path / "synth" / "netlist.v"
    text = netlist.read_text()
    assert " & " in text
    netlist.write_text(text.replace(" & ", " | ", 1))
    with pytest.raises(AssertionError, match="differs from the model"):
        rtl.simulate("e4m3_x_int8", tmp_path / "sim", netlist=netlist, sweep="reduced")


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
