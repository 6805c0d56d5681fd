"""rf8lab against gfloat on the whole product: every P3109 binary8 format, every rounding gfloat offers,
saturating and not, on all 2^16 float16 and bfloat16 patterns (tests/test_peers.py runs a slice of it).

    python analysis/verify_peers.py [--out FILE]

Prints one JSON object: the number of configurations checked, the versions, and the first mismatch if any
(exit status 1 then). docs/verification.md records the result.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import ml_dtypes
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package, for its checks

import gfloat  # noqa: E402

import rf8lab as rl  # noqa: E402
from rf8lab.formats import get_format  # noqa: E402
from tests.test_peers import P3109, _all16, _gfloat_modes, check_against_gfloat  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="also write the JSON here")
    a = p.parse_args(argv)
    t0 = time.time()
    done, failure = 0, None
    for name in P3109:
        for rounding in _gfloat_modes(gfloat):
            for sat in (True, False):
                for dtype in (np.float16, ml_dtypes.bfloat16):
                    try:
                        check_against_gfloat(gfloat, get_format(name), rounding, sat, _all16(dtype))
                    except AssertionError as e:
                        failure = f"{name} {rounding} sat={sat} {np.dtype(dtype).name}: {str(e)[:300]}"
                        break
                    done += 1
    res = {"configurations": done, "formats": len(P3109), "roundings": list(_gfloat_modes(gfloat)),
           "inputs": "all 2^16 float16 and bfloat16 patterns", "first_mismatch": failure,
           "seconds": round(time.time() - t0, 1), "gfloat": version("gfloat"),
           "rf8lab": rl.__version__, "numpy": np.__version__}
    print(json.dumps(res))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
