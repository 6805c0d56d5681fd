"""Format comparison study (see rf8lab/reports/format_study.py): writes reports/format_comparison.md.

    python analysis/format_study.py [--quick] [--out reports]
"""
import argparse
import sys

from rf8lab.reports.format_study import render, run

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 shapes, 2^18 values, 200 sentences (the demo's mode)")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render", action="store_true", help="rewrite the page and figure from OUT/format_comparison.json")
    a = ap.parse_args()
    if a.render:
        print(f"rewrote {render(a.out)}")
    else:
        print(f"wrote {run(a.out, a.quick, 'python analysis/format_study.py ' + ' '.join(sys.argv[1:]))}")
