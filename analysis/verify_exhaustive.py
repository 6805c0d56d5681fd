"""All 2^32 float32 bit patterns through the kernels, unscaled, in any format and rounding.

    python analysis/verify_exhaustive.py [--start K] [--chunks N] [--only CONFIG ...] [--block B] [--out FILE]

A configuration is FORMAT/ROUNDING/OVERFLOW, optionally /sr_bits=N (stochastic roundings; the random bits
of chunk k are drawn from numpy's default_rng(k), so a run is reproducible). The default set is RF8
nearest and log with overflow sat-finite ("saturate") and nan, E4M3 with nan and sat-finite, E5M2 with
ovf-inf ("inf") and sat-finite; --only names any other, e.g. rf8/toward-positive/sat-finite or
e2m1/stochastic/sat-finite/sr_bits=8.

Chunks of 2^24 patterns, in order. For each chunk and configuration:
- the kernels' codes equal those of the vectorized exact codec (rf8lab.codec.vectorized, which decides from
  exact thresholds, not the kernels' tables);
- where the format has an ml_dtypes type and the configuration is ml_dtypes' own (nearest, its overflow
  policy: inf, NaN or saturation), the codes equal ml_dtypes' casts wherever ml_dtypes gives a number or an
  infinity, and are NaN wherever it gives NaN (which NaN code is not part of ml_dtypes' contract); E4M3 and
  E5M2 with sat-finite differ from ml_dtypes only where it gives NaN or inf from a non-NaN input (counted).
With --block B the patterns are encoded in blocks of B consecutive ones (scale="block"), each at its own
scale exponent, and the codes and exponents are compared with the vectorized codec's (no ml_dtypes check);
the hash then covers the codes followed by each chunk's exponents.
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
from rf8lab.codec.layout import make_layout
from rf8lab.formats import ML_DTYPES_TYPES
from rf8lab.policies import Overflow

CHUNK = 1 << 24
DEFAULT = ["rf8/nearest/saturate", "rf8/nearest/nan", "rf8/log/saturate", "rf8/log/nan", "e4m3/nearest/nan",
           "e5m2/nearest/inf", "e4m3/nearest/saturate", "e5m2/nearest/saturate"]


def parse(name: str) -> tuple[str, str, str, int | None]:
    """(format, rounding, overflow, sr_bits) of a configuration name; ValueError naming what is wrong."""
    parts = name.split("/")
    if len(parts) not in (3, 4) or len(parts) == 4 and not parts[3].startswith("sr_bits="):
        raise ValueError(f"{name!r}: a configuration is FORMAT/ROUNDING/OVERFLOW[/sr_bits=N]")
    sr_bits = int(parts[3].split("=", 1)[1]) if len(parts) == 4 else None
    spec = rl.QuantSpec(parts[0], parts[1], None, parts[2], sr_bits=sr_bits)  # checks the combination
    return spec.fmt, str(spec.rounding), str(spec.overflow), sr_bits


def _ml_policy(fmt) -> str:
    return "ovf-inf" if fmt.has_inf else ("nan" if fmt.has_nan else "sat-finite")


def check_chunk(k: int, configs: dict, hashes: dict, counts: dict, block: int | None = None) -> None:
    x = np.arange(k * CHUNK, (k + 1) * CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)
    nan_input = np.isnan(x)
    for cname, (fmt, rounding, overflow, sr_bits) in configs.items():
        f = rl.format_info(fmt)
        xs = x if f.has_nan else np.where(nan_input, np.float32(0), x)  # NaN is refused without a NaN code
        bits = None
        if rl.QuantSpec(fmt, rounding, None, overflow, sr_bits=sr_bits).rounding.stochastic:
            bits = np.random.default_rng(k).integers(0, 2 ** (sr_bits or 32), CHUNK, dtype=np.uint32)
        if block:
            xb = xs.reshape(-1, block)
            enc = rl.encode(xb, fmt, rounding=rounding, overflow=overflow, scale="block", block=block,
                            sr_bits=sr_bits, random_bits=None if bits is None else bits.reshape(xb.shape))
            codes = enc.codes.reshape(-1)
            hashes[cname].update(codes.tobytes() + enc.scale_exp.astype("<i4").tobytes())
            want, want_X, _ = vectorized.encode(xb, f, make_layout(xb.shape, "block", block=block), rounding,
                                                overflow, None if bits is None else bits.reshape(xb.shape), sr_bits)
            want = want.reshape(-1)
            if not np.array_equal(enc.scale_exp.reshape(-1), want_X.reshape(-1)):
                raise SystemExit(f"MISMATCH {cname}: block scale exponents differ from the vectorized codec's")
        else:
            codes = rl.encode(xs, fmt, rounding=rounding, overflow=overflow, scale=None, sr_bits=sr_bits,
                              random_bits=bits).codes
            hashes[cname].update(codes.tobytes())
            want = vectorized.encode(xs, f, make_layout(xs.shape, None), rounding, overflow, bits, sr_bits)[0]
        bad = codes != want
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise SystemExit(f"MISMATCH {cname} at pattern 0x{x.view(np.uint32)[i]:08X}: "
                             f"kernel 0x{codes[i]:02X}, vectorized reference 0x{want[i]:02X}")
        typename = None if block else ML_DTYPES_TYPES.get(fmt)
        ml_own = rounding == "nearest" and overflow == _ml_policy(f)
        fp8_saturate = fmt in ("e4m3", "e5m2") and rounding == "nearest" and overflow == Overflow.SAT_FINITE
        if not typename or not typename.startswith("float") or not hasattr(ml_dtypes, typename) or \
                not (ml_own or fp8_saturate):
            continue
        vt = np.array(rl.value_table(fmt))
        with np.errstate(invalid="ignore", over="ignore"):
            theirs = xs.astype(getattr(ml_dtypes, typename)).view(np.uint8) & np.uint8(f.codes - 1)
        theirs_nan = np.isnan(vt[theirs]) | (nan_input if not f.has_nan else False)
        diff = np.where(theirs_nan, ~np.isnan(vt[codes]) & f.has_nan, codes != theirs)
        if fp8_saturate:
            cls = ~np.isfinite(vt[theirs]) & ~nan_input
            counts[f"{fmt} saturate vs ml_dtypes: overflow/inf -> +-max (ml_dtypes NaN/inf)"] += int((diff & cls).sum())
            diff &= ~cls
        if diff.any():
            i = np.flatnonzero(diff)[0]
            raise SystemExit(f"MISMATCH {cname} vs ml_dtypes at 0x{x.view(np.uint32)[i]:08X}: "
                             f"ours 0x{codes[i]:02X}, ml_dtypes 0x{theirs[i]:02X}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", type=int, default=0, help="first chunk (of 256)")
    p.add_argument("--chunks", type=int, default=256, help="number of chunks of 2^24 patterns")
    p.add_argument("--out", default=None, help="write the hashes and counts as JSON here")
    p.add_argument("--block", type=int, default=None, metavar="B",
                   help="encode in blocks of B consecutive patterns, each at its own scale (default: unscaled)")
    p.add_argument("--only", nargs="+", default=None, metavar="CONFIG",
                   help="check these configurations, e.g. rf8/toward-zero/sat-finite or "
                   "e2m1/stochastic/sat-finite/sr_bits=8 (default: the eight of docs/verification.md)")
    a = p.parse_args(argv)
    try:
        configs = {c: parse(c) for c in (a.only or DEFAULT)}
    except ValueError as e:
        p.error(str(e))
    hashes = {c: hashlib.sha256() for c in configs}
    counts = {f"{f} saturate vs ml_dtypes: overflow/inf -> +-max (ml_dtypes NaN/inf)": 0 for f in ("e4m3", "e5m2")
              if (f, "nearest", "sat-finite", None) in configs.values()}  # only the configurations that run
    t = time.time()
    for k in tqdm(range(a.start, a.start + a.chunks), unit="chunk", desc="2^24 patterns"):
        check_chunk(k, configs, hashes, counts, a.block)
    res = {"patterns": [a.start * CHUNK, (a.start + a.chunks) * CHUNK], "block": a.block,
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
