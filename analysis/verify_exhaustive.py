"""All 2^32 float32 bit patterns through the RF8, E4M3 and E5M2 kernels (unscaled).

    python analysis/verify_exhaustive.py [--start K] [--chunks N] [--only CONFIG ...] [--out FILE]

Chunks of 2^24 patterns, in order. For each chunk:
- RF8 nearest and log, each with overflow saturate and nan: the kernels' codes equal those of the
  vectorized exact codec (rf8lab.codec.vectorized, which decides from exact thresholds, not the kernels'
  tables);
- E4M3 (overflow nan) and E5M2 (overflow inf) codes equal ml_dtypes' casts wherever ml_dtypes gives a
  number or an infinity, and are NaN wherever it gives NaN (which NaN code, i.e. a NaN's sign, is not
  part of ml_dtypes' contract); with overflow saturate they differ only where ml_dtypes gives NaN or
  inf from a non-NaN input (counted per class).
The SHA-256 of each output code stream is printed at the end (and written as JSON with --out);
the values for the whole range are recorded in docs/verification.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time

import ml_dtypes
import numba
import numpy as np
from tqdm import tqdm

import rf8lab as rl
from rf8lab.codec import vectorized

CHUNK = 1 << 24
RF8 = [("rf8", "nearest", "saturate"), ("rf8", "nearest", "nan"), ("rf8", "log", "saturate"), ("rf8", "log", "nan")]
FP8 = [("e4m3", "nearest", "nan", ml_dtypes.float8_e4m3fn), ("e5m2", "nearest", "inf", ml_dtypes.float8_e5m2),
       ("e4m3", "nearest", "saturate", ml_dtypes.float8_e4m3fn), ("e5m2", "nearest", "saturate", ml_dtypes.float8_e5m2)]
VT = {f: rl.value_table(f) for f in ("rf8", "e4m3", "e5m2")}


def name(cfg) -> str:
    return f"{cfg[0]}/{cfg[1]}/{cfg[2]}"


def check_chunk(k: int, hashes: dict, counts: dict, only=None) -> None:
    x = np.arange(k * CHUNK, (k + 1) * CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x64, X0 = x.astype(np.float64), np.zeros(CHUNK, np.int64)
    for cfg in RF8:
        if only and name(cfg) not in only:
            continue
        codes = rl.encode(x, cfg[0], rounding=cfg[1], overflow=cfg[2], scale=None).codes
        hashes[name(cfg)].update(codes.tobytes())
        want = vectorized.float_codes(x64, X0, rl.format_info(cfg[0]), cfg[1], cfg[2])
        bad = codes != want
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise SystemExit(f"MISMATCH {name(cfg)} at pattern 0x{x.view(np.uint32)[i]:08X}: "
                             f"kernel 0x{codes[i]:02X}, vectorized reference 0x{want[i]:02X}")
    for fmt, rounding, overflow, mdt in FP8:
        if only and f"{fmt}/{rounding}/{overflow}" not in only:
            continue
        codes = rl.encode(x, fmt, rounding=rounding, overflow=overflow, scale=None).codes
        hashes[f"{fmt}/{rounding}/{overflow}"].update(codes.tobytes())
        theirs = x.astype(mdt).view(np.uint8)
        theirs_nan = np.isnan(VT[fmt][theirs])
        diff = np.where(theirs_nan, ~np.isnan(VT[fmt][codes]), codes != theirs)
        if overflow == "saturate":
            tv = VT[fmt][theirs]
            cls = ~np.isfinite(tv) & ~np.isnan(x)
            counts[f"{fmt} saturate vs ml_dtypes: overflow/inf -> +-max (ml_dtypes NaN/inf)"] += int((diff & cls).sum())
            diff &= ~cls
        if diff.any():
            i = np.flatnonzero(diff)[0]
            raise SystemExit(f"MISMATCH {fmt}/{overflow} vs ml_dtypes at 0x{x.view(np.uint32)[i]:08X}: "
                             f"ours 0x{codes[i]:02X}, ml_dtypes 0x{theirs[i]:02X}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", type=int, default=0, help="first chunk (of 256)")
    p.add_argument("--chunks", type=int, default=256, help="number of chunks of 2^24 patterns")
    p.add_argument("--out", default=None, help="write the hashes and counts as JSON here")
    p.add_argument("--only", nargs="+", default=None, metavar="CONFIG",
                   help="check only these configurations, e.g. rf8/nearest/saturate (default: all)")
    a = p.parse_args(argv)
    cfgs = [name(c) for c in RF8] + [f"{f}/{r}/{o}" for f, r, o, _ in FP8]
    if a.only and set(a.only) - set(cfgs):
        p.error(f"unknown configuration(s) {sorted(set(a.only) - set(cfgs))}; choose from {', '.join(cfgs)}")
    cfgs = [c for c in cfgs if not a.only or c in a.only]
    hashes = {c: hashlib.sha256() for c in cfgs}
    counts = {f"{f} saturate vs ml_dtypes: overflow/inf -> +-max (ml_dtypes NaN/inf)": 0 for f in ("e4m3", "e5m2")
              if f"{f}/nearest/saturate" in cfgs}  # only the configurations that run
    t = time.time()
    for k in tqdm(range(a.start, a.start + a.chunks), unit="chunk", desc="2^24 patterns"):
        check_chunk(k, hashes, counts, a.only)
    res = {"patterns": [a.start * CHUNK, (a.start + a.chunks) * CHUNK],
           "sha256": {c: h.hexdigest() for c, h in hashes.items()},
           "ml_dtypes_differences": counts, "seconds": round(time.time() - t, 1),
           "all_equal_to_reference": True, "ml_dtypes": ml_dtypes.__version__, "numpy": np.__version__,
           "numba": numba.__version__}
    print(json.dumps(res, indent=1))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
