"""Test vectors for RF8 hardware: `rf8lab vectors -o DIR` writes $readmemh-style hex files.

One vector per line, fields packed into one hex word, most significant field first:

    encode_<rounding>_<overflow>.hex   IIIIIIII CC            float32 input bits, RF8 code (X = 0)
    encode_stochastic_<overflow>.hex   IIIIIIII RRRRRRRR CC   input, the 32 random bits, code
    decode.hex                         CC VVVVVVVV            code, float32 bits of its value (X = 0)
    mac_rf8_int8.hex                   CC AA PPPPPPPP         code, int8 activation, product in units
                                                              of 2^-19 (two's complement, 32 bits)
    mul_rf8_rf8.hex                    CC CC PPPPPPPPPPPPPPPP codes, product in units of 2^-38 (64 bits)

(written without spaces: e.g. 3F80000078 is input 0x3F800000, code 0x78). Inputs cover every code's
value, every decision threshold (nearest: midpoints; log: the irrational breakpoints) and tie
+-1 ulp in every binade, zeros, infinities, NaNs, subnormals, values beyond the range, and seeded
random patterns. The expected outputs come from rf8lab's kernels, which equal the exact reference.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..codec import api
from ..codec.kernels import log_breakpoints
from ..formats import get_format
from . import model as hw


def threshold_inputs(fmt: str, dtype=np.float32) -> np.ndarray:
    """Every grid magnitude and every midpoint (tie) of a format, in `dtype`, each also one ulp
    either side, both signs."""
    f = get_format(fmt)
    ext = np.array([float(m) for m in f.magnitudes] + [float(f.next_up)], np.float64)
    mids = (ext[1:] + ext[:-1]) / 2
    base = np.concatenate([ext, mids, -ext, -mids])
    with np.errstate(over="ignore", invalid="ignore"):
        v = base.astype(dtype)
    v = v[np.isfinite(v.astype(np.float64))]
    out = np.concatenate([v, np.nextafter(v, np.array(np.inf, dtype)), np.nextafter(v, np.array(-np.inf, dtype))])
    return out[np.isfinite(out.astype(np.float64))]


def log_threshold_inputs(dtype=np.float32) -> np.ndarray:
    """RF8's log-rounding breakpoints (and the binade edges 2^(e +- 1/2)) in every binade of the
    unscaled range, rounded to dtype, +-1 ulp."""
    L, _ = log_breakpoints()
    pts = np.concatenate([L, [2 ** 0.5, 2 ** -0.5 * 2]])
    e = np.arange(-20, 3)
    x = (pts[None, :] * 2.0 ** e[:, None]).ravel().astype(dtype)
    x = np.concatenate([x, -x])
    return np.concatenate([x, np.nextafter(x, np.array(np.inf, dtype)), np.nextafter(x, np.array(-np.inf, dtype))])


def encode_inputs(seed: int = 0, n_random: int = 4096) -> np.ndarray:
    f32 = np.float32
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38,
                         -3.4028235e38, 1.0, -1.0, 1.5, 1.6, 2.0, 1e-6, 1e-5, 2.0 ** -16, 2.0 ** -17], f32)
    signalling_nan = np.array([0x7F800001, 0xFFA00000], np.uint32).view(f32)
    codes = api.decode(np.arange(256, dtype=np.uint8), fmt="rf8")
    rnd = np.random.default_rng(seed).integers(0, 1 << 32, n_random, dtype=np.uint64).astype(np.uint32).view(f32)
    x = np.concatenate([codes, threshold_inputs("rf8"), log_threshold_inputs(), specials, signalling_nan, rnd])
    bits = np.unique(x.view(np.uint32))  # one line per distinct pattern, in pattern order
    return bits.view(f32)


def _write(path: Path, lines) -> str:
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def write(out, seed: int = 0) -> dict:
    """Write every vector file into `out`; returns {file: (lines, sha256)}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = encode_inputs(seed)
    xb = x.view(np.uint32)
    info = {}
    for rounding in ("nearest", "log"):
        for overflow in ("saturate", "nan"):
            c = api.encode(x, "rf8", rounding=rounding, overflow=overflow, scale=None).codes
            name = f"encode_{rounding}_{overflow}.hex"
            info[name] = (x.size, _write(out / name, (f"{b:08X}{k:02X}" for b, k in zip(xb, c))))
    bits = np.random.default_rng(seed + 1).integers(0, 1 << 32, x.size, dtype=np.uint64).astype(np.uint32)
    for overflow in ("saturate", "nan"):
        c = api.encode(x, "rf8", rounding="stochastic", overflow=overflow, scale=None, random_bits=bits).codes
        name = f"encode_stochastic_{overflow}.hex"
        info[name] = (x.size, _write(out / name, (f"{b:08X}{r:08X}{k:02X}" for b, r, k in zip(xb, bits, c))))
    vals = api.decode(np.arange(256, dtype=np.uint8), fmt="rf8").view(np.uint32)
    info["decode.hex"] = (256, _write(out / "decode.hex", (f"{c:02X}{v:08X}" for c, v in enumerate(vals))))
    table = hw.products_table()
    mac = (f"{c:02X}{a & 0xFF:02X}{int(table[c, a + 128]) & 0xFFFFFFFF:08X}"
           for c in range(256) if c != hw.NAN_CODE for a in range(-128, 128))
    info["mac_rf8_int8.hex"] = (255 * 256, _write(out / "mac_rf8_int8.hex", mac))
    mul = (f"{c1:02X}{c2:02X}{hw.rf8_product(c1, c2)[0] & (2 ** 64 - 1):016X}"
           for c1 in range(256) if c1 != hw.NAN_CODE for c2 in range(256) if c2 != hw.NAN_CODE)
    info["mul_rf8_rf8.hex"] = (255 * 255, _write(out / "mul_rf8_rf8.hex", mul))
    readme = [__doc__.strip(), "", "Files (lines, SHA-256):"] + [f"  {k}: {n} lines, {h}" for k, (n, h) in info.items()]
    (out / "README.txt").write_text("\n".join(readme) + "\n")
    return info
