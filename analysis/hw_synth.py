"""RTL synthesis and verification (see rf8lab/reports/hardware.py): writes reports/hardware.md.

    python analysis/hw_synth.py [--quick] [--out reports] [--render]

Needs yosys, iverilog, verilator and cocotb (apt-get install -y yosys iverilog verilator berkeley-abc;
pip install 'rf8lab[hw]'); area and timing also need a liberty file and OpenSTA (apt-get install -y
qflow-tech-osu018), and are left out without them.
"""
import argparse
import sys

from rf8lab.reports.hardware import render, run

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a seeded eighth of each design's inputs")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render", action="store_true", help="rewrite the page and figure from OUT/hardware.json")
    a = ap.parse_args()
    if a.render:
        print(f"rewrote {render(a.out)}")
    else:
        print(f"wrote {run(a.out, a.quick, ' '.join(['python analysis/hw_synth.py', *sys.argv[1:]]))}")
