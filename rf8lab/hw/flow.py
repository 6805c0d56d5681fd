"""The RTL flow: the Verilog in rf8lab/hw/rtl/, its expected behaviour from the Python model, and the tools:
simulation with cocotb on Icarus Verilog (RTL, or the gate-level netlist yosys made), synthesis with yosys
and abc. analysis/hw_synth.py runs the whole flow and writes reports/hardware.md.

Tools: Debian's `apt-get install yosys iverilog verilator berkeley-abc` (verilator lints) and
`pip install cocotb`; `missing_tools()` names what is absent and the command that installs it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..optional import require
from . import model

RTL_DIR = Path(__file__).resolve().parent / "rtl"
INSTALL = "apt-get install -y yosys iverilog verilator berkeley-abc && pip install 'rf8lab[hw]'"
GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"  # abc -g: the generic gate library of the counts
# A standard-cell library for area and timing: Oklahoma State University's 0.18 um cells (GPL, Debian package
# qflow-tech-osu018, which also brings OpenSTA as `sta`); $RF8LAB_LIBERTY names another.
LIBERTY = "/usr/share/qflow/tech/osu018/osu018_stdcells.lib"
LIBERTY_INSTALL = "apt-get install -y qflow-tech-osu018"
# scale exponents the encoder is checked at: both ends of its 8-bit range, the edges of RF8's range against
# bfloat16's normals and subnormals, and zero
ENCODER_SCALE_EXPS = (0, 1, -1, 7, -7, 15, -15, 16, -16, 17, -17, 40, -40, 100, -100, 120, -120, 127, -128)


@dataclass(frozen=True)
class Design:
    """One synthesizable top: its Verilog files, parameters, and what the testbench checks."""
    name: str
    top: str
    files: tuple[str, ...]
    kind: str                  # "mul" (w, a -> p, nan), "mul_rf8" (w1, w2 -> p, nan), "decode", "mac", "encode"
    summary: str
    parameters: dict = field(default_factory=dict)
    product_bits: int = 0


DESIGNS = {d.name: d for d in (
    Design("rf8_decode", "rf8_decode", ("rf8_decode.v",), "decode", "RF8 byte -> sign, shifts, op, zero, NaN"),
    Design("rf8_x_int8_two_shifts", "rf8_mul_int8_shift2", ("rf8_decode.v", "rf8_mul_int8_shift2.v"), "mul",
           "RF8 x int8: two barrel shifts (0..19, 0..18) and one add/subtract", product_bits=28),
    Design("rf8_x_int8_significand_first", "rf8_mul_int8_sigfirst", ("rf8_decode.v", "rf8_mul_int8_sigfirst.v"),
           "mul", "RF8 x int8: a * (2^(D+1) +- 1) by shift-and-add, then one barrel shift (0..18)",
           product_bits=28),
    Design("e4m3_x_int8", "e4m3_mul_int8", ("e4m3_mul_int8.v",), "mul",
           "E4M3 x int8: 4-bit significand x activation, one barrel shift (0..14)", product_bits=26),
    Design("int8_x_int8", "int8_mul_int8", ("int8_mul_int8.v",), "mul", "int8 x int8 array multiplier",
           product_bits=16),
    Design("rf8_x_rf8", "rf8_mul_rf8", ("rf8_decode.v", "rf8_mul_rf8.v"), "mul_rf8",
           "RF8 x RF8: 5 x 5-bit significand product, one barrel shift (0..36)", product_bits=41),
    Design("rf8_encode_bf16", "rf8_encode_bf16", ("rf8_encode_bf16.v",), "encode",
           "bfloat16 x 2^-X -> RF8, nearest (ties to even rank), saturating"),
    *(Design(f"mac_{n}", "mac", ("rf8_decode.v", "rf8_mul_int8_shift2.v", "rf8_mul_int8_sigfirst.v",
                                 "e4m3_mul_int8.v", "int8_mul_int8.v", "mac.v"), "mac",
             f"{s} with a 32-bit accumulator", {"ARCH": arch})
      for arch, n, s in ((0, "rf8_two_shifts", "RF8 x int8 (two shifts)"),
                         (1, "rf8_significand_first", "RF8 x int8 (significand first)"),
                         (2, "e4m3", "E4M3 x int8"), (3, "int8", "int8 x int8"))),
)}
# mac.v's ARCH parameter: the multiplier each MAC instantiates, and what its weights are
MAC_ARCH = {0: ("rf8_mul_int8_shift2", "rf8"), 1: ("rf8_mul_int8_sigfirst", "rf8"), 2: ("e4m3_mul_int8", "e4m3"),
            3: ("int8_mul_int8", "int8")}
MAC_STEPS = {"full": 40000, "reduced": 5000}  # seeded steps of the MAC testbench


# ---- what each design must compute (from the Python model and the codec) ---------------------------
@lru_cache(maxsize=None)
def expected_products(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(p, nan) for every (first operand, second operand) byte pair, shape (256, 256), indexed [w, b] with b
    the second operand's byte (an int8 activation's two's-complement pattern, or an RF8 code)."""
    d = DESIGNS[name]
    if d.kind == "mul_rf8":
        p = np.zeros((256, 256), np.int64)
        for c1 in range(256):
            for c2 in range(256):
                if model.NAN_CODE not in (c1, c2):
                    p[c1, c2] = model.rf8_product(c1, c2)[0]
        nan = np.zeros((256, 256), bool)
        nan[model.NAN_CODE, :] = nan[:, model.NAN_CODE] = True
        return p, nan
    arch = next(a for a, (top, _) in MAC_ARCH.items() if top == d.top)
    return weight_products(arch)


@lru_cache(maxsize=None)
def weight_products(arch: int) -> tuple[np.ndarray, np.ndarray]:
    """(p, nan) of a weight x int8 multiplier, [w byte, a byte]: RF8 in units of 2^-19 (rf8lab.hw.model),
    E4M3 in units of 2^-9 (its exact values from the codec), int8 the plain product."""
    a = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
    if MAC_ARCH[arch][1] == "rf8":
        table = model.products_table()  # [code, a + 128]
        p = table[:, (a + 128)]
        nan = np.zeros((256, 256), bool)
        nan[model.NAN_CODE] = True
        return p, nan
    if MAC_ARCH[arch][1] == "e4m3":
        from ..codec.api import value_table
        v = value_table("e4m3")
        nan = np.isnan(v)[:, None] & np.ones(256, bool)
        units = np.where(np.isnan(v), 0, v * 512).astype(np.int64)  # exact: every value is k * 2^-9
        return units[:, None] * a[None, :], nan
    return a[:, None] * a[None, :], np.zeros((256, 256), bool)


def expected(name: str, scale_exps: tuple[int, ...] = (0,)) -> dict[str, np.ndarray]:
    """The arrays the testbench compares a design's outputs with."""
    d = DESIGNS[name]
    if d.kind == "decode":
        return {"fields": expected_decode()}
    if d.kind == "encode":
        return {"scale_exps": np.array(scale_exps), "codes": np.stack([expected_encode(X) for X in scale_exps])}
    p, nan = expected_products(name) if d.kind != "mac" else weight_products(d.parameters["ARCH"])
    return {"p": p, "nan": nan}


def expected_decode() -> np.ndarray:
    """(256, 7) int64: sign, shift1, shift2, add, sub, zero, nan of every RF8 code (model.fields)."""
    rows = []
    for c in range(256):
        f = model.fields(c)
        rows.append([f["S"], f["shift1"], f["shift2"], f["residual"] > 0, f["residual"] < 0, f["zero"], f["nan"]])
    return np.array(rows, np.int64)


def expected_encode(scale_exp: int) -> np.ndarray:
    """RF8 code of every bfloat16 pattern x, encoding x * 2^-X (nearest, saturating), from the codec."""
    import ml_dtypes

    from ..codec.api import encode
    with np.errstate(invalid="ignore"):  # NaN patterns
        xs = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)
        return encode(xs * 2.0 ** -scale_exp, "rf8", scale=None, rounding="nearest", overflow="sat-finite").codes


# ---- tools -----------------------------------------------------------------------------------------
def missing_tools() -> list[str]:
    """Names of the tools this flow needs and cannot find (empty when all are there)."""
    need = ["iverilog", "vvp", "yosys", "verilator"]
    out = [t for t in need if shutil.which(t) is None]
    try:
        import cocotb  # noqa: F401
    except ImportError:
        out.append("cocotb (pip)")
    return out


def sources(design: Design) -> list[Path]:
    return [RTL_DIR / f for f in design.files]


def lint(name: str) -> str:
    """Verilator's strictest lint (`--lint-only -Wall`) of a design; returns its complaints ("" when clean).
    Verilator is the linter here: cocotb 2's Verilator support needs a newer Verilator than Debian's 5.006."""
    d = DESIGNS[name]
    params = [f"-G{k}={v}" for k, v in d.parameters.items()]
    p = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", d.top, *params,
                        *map(str, sources(d))], capture_output=True, text=True)
    return (p.stdout + p.stderr).strip() if p.returncode else ""


def simulate(name: str, build_dir: Path, netlist: Path | list[Path] | None = None, sweep: str = "full",
             scale_exps: tuple[int, ...] = (0,)) -> None:
    """Run the design's cocotb testbench (rtl/cocotb_bench.py) on the RTL, or on `netlist` (a gate-level
    Verilog file from `synthesize`, or the files of a cell-mapped one: `area_and_delay`'s cells.v and the
    library's cell models, `cell_models()`). sweep "full" drives every operand pair (every input of the encoder),
    "reduced" a seeded eighth of them. Raises on any difference (cocotb's failure)."""
    runners = require("cocotb_tools.runner", "simulating the RTL")
    d = DESIGNS[name]
    runner = runners.get_runner("icarus")  # Debian's Verilator (5.006) is older than cocotb 2 supports
    files = sources(d) if netlist is None else ([netlist] if isinstance(netlist, (str, Path)) else list(netlist))
    params = {} if netlist is not None else dict(d.parameters)  # a netlist has its parameters built in
    build_dir = Path(build_dir)
    runner.build(sources=files, hdl_toplevel=d.top, build_dir=build_dir, parameters=params, always=True,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    np.savez(build_dir / "expected.npz", **expected(name, scale_exps))
    shutil.copyfile(RTL_DIR / "cocotb_bench.py", build_dir / "cocotb_bench.py")  # the runner imports from test_dir
    env = {"RF8LAB_RTL_DESIGN": name, "RF8LAB_RTL_KIND": d.kind, "RF8LAB_RTL_SWEEP": sweep,
           "RF8LAB_RTL_EXPECTED": str(build_dir / "expected.npz"), "RF8LAB_RTL_STEPS": str(MAC_STEPS[sweep])}
    results = build_dir / "results.xml"
    try:
        runner.test(test_module="cocotb_bench", hdl_toplevel=d.top, build_dir=build_dir, test_dir=build_dir,
                    extra_env=env, log_file=build_dir / "test.log", results_xml=str(results))
    except SystemExit:  # cocotb's runner exits when a test fails: results.xml says which
        pass
    if not results.is_file():
        raise AssertionError(f"{name}: the simulation did not finish; see {build_dir / 'test.log'}")
    tests, failed = require("cocotb_tools.check_results", "simulating the RTL").get_results(results)
    if tests != 1 or failed:
        raise AssertionError(f"{name}: the simulation differs from the model ({failed} of {tests} testbench "
                             f"runs failed; one must run and pass); see {build_dir / 'test.log'}")


def yosys_script(design: Design, netlist: Path | None = None) -> str:
    """The synthesis script: flattened, mapped onto the generic gates (abc -g), then the counts and the longest
    path in gates (ltp -noff: flip-flops cut paths); then the same netlist as an AIG (aigmap: AND and NOT
    cells), its counts and longest path."""
    write = f"write_verilog -noattr {netlist}; " if netlist is not None else ""
    return (f"{_synth_script(design)}abc -g {GATES}; opt_clean; tee -o gates.txt stat; "
            f"tee -o cmos.txt stat -tech cmos; tee -o ltp_gates.txt ltp -noff; {write}"
            f"design -save mapped; aigmap; opt_clean; tee -o aig.txt stat; tee -o ltp.txt ltp -noff")


def _synth_script(design: Design) -> str:
    """Read the design, set its parameters, synthesize it (yosys `synth`), then flatten it. Each module is
    synthesized on its own first: flattened before `synth`, yosys folded int8's w * a into the MAC's adder
    (one $macc, 1.6 times the gates of the multiplier and an adder), so the MACs would not compare the
    multipliers; abc then maps the flattened whole."""
    reads = " ".join(str(p) for p in sources(design))
    chparams = "".join(f"chparam -set {k} {v} {design.top}; " for k, v in design.parameters.items())
    return f"read_verilog {reads}; {chparams}synth -top {design.top}; flatten; opt_clean; "


def synthesize(name: str, work_dir: Path) -> dict:
    """Synthesize one design; returns its counts and writes netlist.v (the gate-level netlist) to work_dir."""
    d = DESIGNS[name]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    script = yosys_script(d, Path("netlist.v"))
    _yosys(name, script, work_dir, "synth.ys")
    gates = _cells((work_dir / "gates.txt").read_text())
    aig = _cells((work_dir / "aig.txt").read_text())
    cmos = _number(name, work_dir / "cmos.txt", r"Estimated number of transistors:\s+(\d+)")
    path = r"Longest topological path in \S+ \(length=(\d+)\)"
    ltp, ltp_gates = _number(name, work_dir / "ltp.txt", path), _number(name, work_dir / "ltp_gates.txt", path)
    flops = sum(v for k, v in gates.items() if "DFF" in k)
    return {"design": name, "top": d.top, "parameters": d.parameters, "summary": d.summary,
            "gates": {k: v for k, v in gates.items() if "DFF" not in k}, "gate_count":
            sum(v for k, v in gates.items() if "DFF" not in k), "flops": flops,
            "transistors": int(cmos), "aig_and": aig.get("$_AND_", 0), "aig_not": aig.get("$_NOT_", 0),
            "aig_depth": int(ltp), "gate_depth": int(ltp_gates), "product_bits": d.product_bits,
            "script": script}


def _yosys(name: str, script: str, work_dir: Path, file: str) -> None:
    """Run a yosys script in work_dir; its failure is an error that quotes yosys' last lines."""
    (work_dir / file).write_text(script.replace("; ", "\n") + "\n")
    p = subprocess.run(["yosys", "-q", "-s", file], cwd=work_dir, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{name}: yosys failed on {work_dir / file}: {(p.stdout + p.stderr)[-800:]}")


def _number(name: str, report: Path, pattern: str) -> str:
    """The first group of `pattern` in a tool's report, or an error naming the report."""
    m = re.search(pattern, report.read_text())
    if m is None:
        raise RuntimeError(f"{name}: no /{pattern}/ in {report}: the tool's output changed, or it failed")
    return m.group(1)


def _cells(stat: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\$_\w+_)\s+(\d+)\s*$", stat, re.M)}


def liberty() -> Path | None:
    """The liberty file for area and timing, or None where it (or OpenSTA) is not installed."""
    path = Path(os.environ.get("RF8LAB_LIBERTY", LIBERTY))
    return path if path.is_file() and shutil.which("sta") else None


def cell_models(lib: Path) -> Path:
    """The Verilog models of the library's cells (beside the liberty file, as qflow installs them)."""
    return lib.with_suffix(".v")


def area_and_delay(name: str, work_dir: Path, lib: Path) -> dict:
    """Area (yosys `stat -liberty`, the library's units: um^2 for OSU) and the longest path in ns (OpenSTA,
    typical corner, no wire load; inputs arrive at time 0; for a MAC the longest path into a flip-flop or an
    output, without the flip-flop's setup time) of the design mapped onto the library's cells by abc,
    flip-flops by dfflibmap."""
    d = DESIGNS[name]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    script = (f"{_synth_script(d)}dfflibmap -liberty {lib}; "
              f"abc -liberty {lib}; opt_clean; tee -o area.txt stat -liberty {lib}; "
              f"write_verilog -noattr -noexpr cells.v")
    _yosys(name, script, work_dir, "cells.ys")
    area = float(_number(name, work_dir / "area.txt", r"Chip area for module \S+: ([\d.]+)"))
    clock = ("create_clock -name clk -period 100 [get_ports clk]\n"
             "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]\n"
             if d.kind == "mac" else
             "create_clock -name vclk -period 100\nset_input_delay 0 -clock vclk [all_inputs]\n")
    sta = (f"read_liberty {lib}\nread_verilog cells.v\nlink_design {d.top}\n{clock}"
           f"set_output_delay 0 -clock {'clk' if d.kind == 'mac' else 'vclk'} [all_outputs]\n"
           "report_checks -path_delay max -digits 3\nexit\n")
    (work_dir / "sta.tcl").write_text(sta)
    p = subprocess.run(["sta", "-no_splash", "-exit", "sta.tcl"], cwd=work_dir, capture_output=True, text=True,
                       timeout=300)
    arrival = re.search(r"([\d.]+)\s+data arrival time", p.stdout)
    trouble = re.search(r"^(Error|Warning).*$", p.stdout + p.stderr, re.M)
    if p.returncode or arrival is None or trouble:
        raise RuntimeError(f"{name}: OpenSTA did not time the netlist cleanly ({trouble.group(0) if trouble else ''}): "
                           f"{(p.stdout + p.stderr)[-500:]}")
    return {"area": area, "delay_ns": float(arrival.group(1)), "cells_script": script, "sta_script": sta}


def versions() -> dict[str, str]:
    """Versions of the tools the numbers came from."""
    out = {}
    for tool, args in (("yosys", ["-V"]), ("iverilog", ["-V"]), ("verilator", ["--version"])):
        if shutil.which(tool):
            p = subprocess.run([tool, *args], capture_output=True, text=True)
            out[tool] = (p.stdout or p.stderr).splitlines()[0].strip()
    try:
        import cocotb
        out["cocotb"] = cocotb.__version__
    except ImportError:
        pass
    out["abc"] = "yosys-abc (the abc yosys runs)"
    if shutil.which("sta"):
        p = subprocess.run(["sta", "-version"], capture_output=True, text=True)
        out["OpenSTA"] = (p.stdout or p.stderr).strip()
    lib = liberty()
    if lib is not None:
        out["liberty"] = str(lib)
    return out


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
