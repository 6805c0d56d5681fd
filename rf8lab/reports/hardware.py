"""Synthesis numbers for the RTL in rf8lab/hw/rtl/ (reports/hardware.md): each design synthesized with yosys
and abc, and simulated against the Python model as RTL, as the gate-level netlist and as the cell netlist, on
the inputs the page lists (every input of the multipliers and the decoder), so the counts are those of
circuits that gave the model's output there. The page renders from reports/hardware.json only."""
from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from ..hw import flow
from ..io.files import atomic_write
from .markdown import versions

JSON_NAME, PAGE_NAME, FIGURE_NAME = "hardware.json", "hardware.md", "hardware.png"
MULTIPLIERS = ("rf8_x_int8_two_shifts", "rf8_x_int8_significand_first", "e4m3_x_int8", "int8_x_int8")
MACS = ("mac_rf8_two_shifts", "mac_rf8_significand_first", "mac_e4m3", "mac_int8")


def run(out="reports", quick: bool = False, command: str = "", progress=print) -> Path:
    """Synthesize and verify every design; write OUT/hardware.json, then the page and figure from it."""
    sweep = "reduced" if quick else "full"
    lib = flow.liberty()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rf8lab-hw-") as tmp:
        for name in flow.DESIGNS:
            t0 = time.perf_counter()
            work = Path(tmp) / name
            row = flow.synthesize(name, work / "synth")
            row["script"] = _relative(row["script"])
            exps = flow.ENCODER_SCALE_EXPS
            flow.simulate(name, work / "rtl", sweep=sweep, scale_exps=exps)
            flow.simulate(name, work / "gates", netlist=work / "synth" / "netlist.v", sweep=sweep, scale_exps=exps)
            row["verified"] = {"sweep": sweep, "rtl": True, "netlist": True, "inputs": _inputs(name, sweep)}
            if lib is not None:  # mapped onto the library's cells, timed, and simulated with the cell models
                row["liberty"] = flow.area_and_delay(name, work / "cells", lib)
                for key in ("cells_script", "sta_script"):
                    row["liberty"][key] = _relative(row["liberty"][key])
                flow.simulate(name, work / "cells_sim", netlist=[work / "cells" / "cells.v", flow.cell_models(lib)],
                              sweep=sweep, scale_exps=exps)
                row["verified"]["cells"] = True
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            cells = (f", {row['liberty']['area']:.0f} µm², {row['liberty']['delay_ns']} ns" if "liberty" in row
                     else "")
            progress(f"{name}: {row['gate_count']} gates, {row['transistors']} transistors{cells}, "
                     f"verified ({sweep}) in {row['seconds']} s")
    result = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "quick": quick,
              "tools": flow.versions(), "versions": versions("numpy", "cocotb"), "gates": flow.GATES,
              "encoder_scale_exps": list(flow.ENCODER_SCALE_EXPS), "liberty": str(lib) if lib else None,
              "designs": rows}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / JSON_NAME, lambda p: p.write_text(json.dumps(result, indent=1) + "\n"))
    return render(out)


def _relative(script: str) -> str:
    """A script as the page shows it: the Verilog files by their path in the repository."""
    return script.replace(str(flow.RTL_DIR), "rf8lab/hw/rtl")


def _inputs(name: str, sweep: str) -> str:
    kind = flow.DESIGNS[name].kind
    if kind == "decode":
        return "all 256 codes"
    if kind == "encode":
        n = len(flow.ENCODER_SCALE_EXPS)
        return f"all 65,536 bfloat16 patterns at {n} scale exponents" if sweep == "full" else "an eighth"
    if kind == "mac":
        return (f"{flow.MAC_STEPS[sweep]:,} seeded steps: the largest product until the accumulator wraps (int8's "
                "would take 131,072 steps: 1,000, to 2^24), then random pairs with clears and idle cycles")
    return "all 65,536 operand pairs" if sweep == "full" else "a seeded eighth of the pairs"


def _by_name(result) -> dict:
    return {r["design"]: r for r in result["designs"]}


def render(out="reports") -> Path:
    out = Path(out)
    result = json.loads((out / JSON_NAME).read_text())
    d = _by_name(result)
    _figure(d, out / FIGURE_NAME)
    lines = ["# RF8 in silicon: synthesis of the RTL", "",
             f"Command: `{result['command']}` ({result['date']}). Tools: "
             + "; ".join(f"{k} {v}" for k, v in result["tools"].items()) + ".", "",
             "Every design in `rf8lab/hw/rtl/` was synthesized flattened with yosys (`synth -flatten`), mapped "
             f"by abc onto the generic gates `{result['gates']}` (inverters included in the count), and "
             "simulated with cocotb on Icarus Verilog against the Python model (`rf8lab.hw.model`) and the codec "
             "twice: as RTL and as the gate-level netlist yosys wrote. The counts below are of circuits that "
             "gave the model's output on every input listed. Transistors: yosys `stat -tech cmos` (its CMOS "
             "estimate per gate type). AIG: the same netlist as AND and NOT cells (`aigmap`). Depth: the longest "
             "path in cells (`ltp -noff`; flip-flops cut paths), in the generic gates and in the AIG.", "",
             *_liberty_note(result), "",
             "| design | what | product bits | gates | transistors | AIG AND | AIG NOT | gate depth | AIG depth "
             "| flip-flops | area (um²) | delay (ns) | verified on |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["designs"]:
        lib = r.get("liberty") or {}
        where = "RTL, generic-gate netlist" + (" and cell netlist" if r["verified"].get("cells") else "")
        lines.append(f"| {r['design']} | {r['summary']} | {r['product_bits'] or ''} | {r['gate_count']} | "
                     f"{r['transistors']} | {r['aig_and']} | {r['aig_not']} | {r['gate_depth']} | {r['aig_depth']} | "
                     f"{r['flops']} | {lib.get('area', '–')} | {lib.get('delay_ns', '–')} | "
                     f"{r['verified']['inputs']}: {where} |")
    lines += ["", f"![gates and cell area]({FIGURE_NAME})", "", "## Which is smaller", ""]
    lines += _conclusions(d)
    lines += ["", "## Assumptions", "",
              "- Weight × int8 multipliers give the exact product as an integer: RF8 in units of 2^-19 (28 bits "
              "signed), E4M3 in units of 2^-9 (26 bits), int8 × int8 16 bits. The group scale 2^X is applied "
              "once after the accumulator, outside these circuits.",
              "- The MACs add the product, sign-extended, into a 32-bit two's-complement accumulator (wrapping) "
              "and keep a sticky NaN flag: 33 flip-flops (32 for int8, whose NaN flag is constant and "
              "synthesizes away).",
              "- Combinational multipliers, no pipelining; counts after abc's optimization for the generic gate "
              "set (not for speed or a cell library).",
              "", "## The synthesis script", "", "```", _script_text(result["designs"][0]), "```", "",
              "(the same for every design with its top and files; MACs add `chparam -set ARCH n mac`). "
              "Area and delay: the same synthesis, then `dfflibmap -liberty LIB; abc -liberty LIB; opt_clean; "
              "stat -liberty LIB`, `write_verilog -noattr -noexpr`, and OpenSTA's `report_checks -path_delay max` "
              "(the scripts are in reports/hardware.json). Rerun: `python analysis/hw_synth.py`."]
    page = out / PAGE_NAME
    atomic_write(page, lambda p: p.write_text("\n".join(lines) + "\n"))
    return page


def _liberty_note(result) -> list[str]:
    if not result.get("liberty"):
        return ["No standard-cell liberty file was installed (Debian's qflow-tech-osu018 gives one: "
                f"`{flow.LIBERTY_INSTALL}`), so there is no area or timing; the counts are tool-independent."]
    return [f"Area and delay: the design mapped by abc onto the cells of `{result['liberty']}` (Oklahoma State "
            "University's 0.18 µm standard cells, GPL, from Debian's qflow-tech-osu018; flip-flops by dfflibmap), "
            "area from yosys `stat -liberty`, delay the longest path from OpenSTA (typical corner, 1.8 V, no wire "
            "load, inputs at time 0; for the MACs the longest path into the accumulator's flip-flops, without their "
            "setup time). That netlist was simulated too, with the library's own cell models, without delays "
            "(Icarus ignores their specify blocks): it checks the logic, OpenSTA the timing. An old process and a "
            "small library: read the ratios, not the µm²."]


def _script_text(row) -> str:
    return row["script"].replace("; ", "\n")


def _conclusions(d) -> list[str]:
    def ratio(a, b, key="gate_count"):
        return d[a][key] / d[b][key]

    out = []
    for name in ("rf8_x_int8_two_shifts", "rf8_x_int8_significand_first"):
        g, t = ratio(name, "e4m3_x_int8"), ratio(name, "e4m3_x_int8", "transistors")
        verdict = "smaller" if g < 1 and t < 1 else ("larger" if g > 1 and t > 1 else "mixed")
        if verdict == "larger" and g < 1.25:
            verdict = "slightly larger"
        cells = ""
        if d[name].get("liberty") and d["e4m3_x_int8"].get("liberty"):
            a = d[name]["liberty"]["area"] / d["e4m3_x_int8"]["liberty"]["area"]
            t_ = d[name]["liberty"]["delay_ns"] / d["e4m3_x_int8"]["liberty"]["delay_ns"]
            cells = f", {a:.2f}× the cell area and {t_:.2f}× the delay in OSU 0.18 µm cells"
            verdict = verdict if (a < 1) == (g < 1) else "mixed"
        out.append(f"- {name} against e4m3_x_int8: {g:.2f}× the gates, {t:.2f}× the transistors{cells}, "
                   f"{d[name]['gate_depth']} against {d['e4m3_x_int8']['gate_depth']} gates deep: **{verdict}**.")
    g = ratio("rf8_x_int8_significand_first", "rf8_x_int8_two_shifts")
    out.append(f"- The architecture matters: significand first is {g:.2f}× the gates of the two-shifter design "
               "for the same function.")
    out.append(f"- int8 × int8 for scale: {d['int8_x_int8']['gate_count']} gates; RF8 × RF8: "
               f"{d['rf8_x_rf8']['gate_count']}; the bfloat16 → RF8 encoder: {d['rf8_encode_bf16']['gate_count']}; "
               f"the decoder: {d['rf8_decode']['gate_count']}.")
    for name in MACS:
        if name != "mac_e4m3":
            g = ratio(name, "mac_e4m3")
            cells = ""
            if d[name].get("liberty") and d["mac_e4m3"].get("liberty"):
                a = d[name]["liberty"]["area"] / d["mac_e4m3"]["liberty"]["area"]
                t_ = d[name]["liberty"]["delay_ns"] / d["mac_e4m3"]["liberty"]["delay_ns"]
                cells = f", {a:.2f}× the cell area, {t_:.2f}× the longest path into the accumulator"
            out.append(f"- {name} against mac_e4m3 (with the 32-bit accumulator): {g:.2f}× the gates, "
                       f"{ratio(name, 'mac_e4m3', 'transistors'):.2f}× the transistors{cells}.")
    return out


def _figure(d, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in (*MULTIPLIERS, "rf8_x_rf8", *MACS) if n in d]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    cells = all(d[n].get("liberty") for n in names)
    panels = ((ax[0], lambda r: r["gate_count"], "generic gates (abc -g)"),
              (ax[1], (lambda r: round(r["liberty"]["area"])) if cells else (lambda r: r["transistors"]),
               "area in OSU 0.18 µm cells (µm²)" if cells else "transistors (yosys stat -tech cmos)"))
    for a, value, title in panels:
        vals = [value(d[n]) for n in names]
        colors = ["tab:red" if "rf8" in n else ("tab:blue" if "e4m3" in n else "tab:gray") for n in names]
        a.barh(names, vals, color=colors)
        a.invert_yaxis()
        a.set_title(title)
        for i, v in enumerate(vals):
            a.text(v, i, f" {v}", va="center", fontsize=8)
    ax[1].set_yticklabels([])
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=90, format="png"))
    plt.close(fig)
