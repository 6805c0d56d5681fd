"""Test helpers: an independent brute-force nearest search and input pools near every threshold."""
from __future__ import annotations

import ml_dtypes
import numpy as np

import rf8lab as rl
from rf8lab.policies import Rounding

BF16 = np.dtype(ml_dtypes.bfloat16)

# One format per family, for the tests that run every rounding and overflow mode: a product over all 53
# formats would take an hour. Every format is still run at nearest.
FAMILY = ("rf8", "e4m3", "e5m2", "e5m3fnu", "e2m1", "int4", "binary8p1se", "binary8p7se", "mxint8", "nvfp4",
          "mxrf8")
SR_BITS = 5  # random bits for the stochastic roundings that take them


def configs(scales: bool = False, every_format: bool = True, family=FAMILY):
    """(fmt, rounding, overflow, scale, sr_bits) to test: every format at nearest (unless not every_format),
    and the FAMILY formats in each overflow mode, in every rounding (the stochastic rule exact and with
    SR_BITS bits) and, with `scales`, at their other granularities. scale "auto" is the format's default."""
    for fmt in rl.format_names():
        f = rl.format_info(fmt)
        if fmt not in family:
            if every_format:
                yield fmt, "nearest", "sat-finite", "auto", None
            continue
        for o in f.overflows:
            yield fmt, "nearest", str(o), "auto", None
        for r in f.roundings:
            if r != "nearest":
                yield fmt, str(r), "sat-finite", "auto", None if r in ("stochastic", "log") or not r.stochastic \
                    else SR_BITS
        if "stochastic" in f.roundings:
            yield fmt, "stochastic", "sat-finite", "auto", SR_BITS
        if scales:
            yield from ((fmt, "nearest", "sat-finite", s, None) for s in f.scales if s != f.default_scale)


def random_bits(rounding: str, sr_bits, shape, seed: int = 0):
    """The uint32 random bits a stochastic rounding takes (None for the others)."""
    if not Rounding(rounding).stochastic:
        return None
    return np.random.default_rng(seed).integers(0, 2 ** (sr_bits or 32), shape, dtype=np.uint32)
FLOAT_DTYPES = [np.dtype(np.float16), BF16, np.dtype(ml_dtypes.float8_e4m3fn), np.dtype(np.float32),
                np.dtype(np.float64)]


def grid(fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """(magnitudes, extended grid) at X = 0 read from the value table, not from the codec."""
    vt = rl.value_table(fmt)
    fin = vt[np.isfinite(vt)]
    pos = set(np.abs(fin[fin >= 0]).tolist())
    neg = set(np.abs(fin[fin < 0]).tolist())
    unsigned = not rl.format_info(fmt).signed
    mags = np.array(sorted(m for m in pos if m == 0 or m in neg or unsigned))
    nxt = rl.format_info(fmt).next_up
    return mags, np.append(mags, float(nxt))


def brute_nearest(x: np.ndarray, fmt: str, overflow: str = "saturate") -> np.ndarray:
    """Nearest grid value by exhaustive search over all magnitudes (float64; the two nearest
    distances are exact by Sterbenz' lemma). Ties to even rank; the extended top means overflow."""
    mags, ext = grid(fmt)
    x = np.asarray(x, np.float64).ravel()
    # anything at or past the extended top overflows; clamping keeps the float64 distances exact
    a = np.minimum(np.abs(x), 2 * ext[-1])
    out = np.empty_like(x)
    for s in range(0, len(x), 4096):
        d = np.abs(a[s:s + 4096, None] - ext[None, :])
        best = d.min(axis=1, keepdims=True)
        cand = d == best
        ranks = np.arange(len(ext))
        # among (at most two) equally near candidates, prefer the even rank
        score = np.where(cand, np.where(ranks % 2 == 0, 0, 1), 2)
        r = np.argmin(score * len(ext) + ranks, axis=1)
        v = ext[r]
        over = r == len(mags)
        if overflow == "saturate":
            v[over] = mags[-1]
        else:
            v[over] = np.nan
        out[s:s + 4096] = v
    out = np.copysign(out, x)
    out[np.isnan(x)] = np.nan
    if overflow == "saturate":
        out[np.isinf(x)] = np.copysign(mags[-1], x[np.isinf(x)])
    else:
        out[np.isinf(x)] = np.nan
    return out


def next_toward(x: np.ndarray, up: bool) -> np.ndarray:
    """One ulp up or down in x's own dtype (ml_dtypes types step through their bit pattern;
    stepping below +0 or past the top may give NaN, which callers filter)."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return np.nextafter(x, np.array(np.inf if up else -np.inf, x.dtype))
    ut = np.uint8 if x.dtype.itemsize == 1 else np.uint16
    bits = x.view(ut).astype(np.int64)
    away = (x.astype(np.float32) >= 0) == up  # sign-magnitude: +1 on the pattern moves away from 0
    return ((bits + np.where(away, 1, -1)) % (1 << (8 * x.dtype.itemsize))).astype(ut).view(x.dtype)


def threshold_pool(fmt: str, dtype: np.dtype) -> np.ndarray:
    """Every grid value and every midpoint (tie), in `dtype`, each also one ulp either side."""
    _, ext = grid(fmt)
    mids = (ext[1:] + ext[:-1]) / 2
    base = np.concatenate([ext, mids, -ext, -mids])
    with np.errstate(over="ignore", invalid="ignore"):
        v = base.astype(dtype)
    v = v[np.isfinite(v.astype(np.float64))]
    out = np.concatenate([v, next_toward(v, True), next_toward(v, False)])
    return out[np.isfinite(out.astype(np.float64))]


def assert_codes_match_peer(ours: np.ndarray, theirs: np.ndarray, fmt: str) -> None:
    """Our codes against a peer's cast (ml_dtypes, torch), on what the peer guarantees: the same code
    wherever the peer's result is a number or an infinity, and a NaN code wherever it is NaN (which of
    the format's NaN codes, i.e. a NaN's sign, is no peer's documented contract)."""
    vt = rl.value_table(fmt)
    theirs_nan = np.isnan(vt[theirs])
    np.testing.assert_array_equal(ours[~theirs_nan], theirs[~theirs_nan])
    assert np.isnan(vt[ours[theirs_nan]]).all()


class Codec:
    """One implementation of the codec behind rf8lab's numpy API (reference, numba, vectorized), or
    rf8lab.torch on CPU tensors, taking and returning numpy arrays, so one test covers each."""

    def __init__(self, backend: str):
        self.backend = backend

    def __repr__(self):
        return self.backend

    def _torch_args(self, x, kw):
        import pytest
        import torch

        x = np.asarray(x)
        if x.dtype not in (np.float16, np.float32, np.float64, BF16) or not x.dtype.isnative:
            pytest.skip(f"rf8lab.torch takes float16, bfloat16, float32 or float64 tensors, not {x.dtype}")
        kw = dict(kw)
        rng = kw.pop("rng", None)
        if kw.get("rounding") == "stochastic" and "random_bits" not in kw:  # the draw rf8lab makes
            kw["random_bits"] = np.random.default_rng(rng).integers(0, 2 ** 32, size=x.shape, dtype=np.uint32)
        if "random_bits" in kw:
            kw["random_bits"] = torch.from_numpy(np.asarray(kw["random_bits"]).astype(np.int64))
        if "dtype" in kw:
            torch_dtypes = {np.dtype(np.float16): torch.float16, BF16: torch.bfloat16,
                            np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
            kw["dtype"] = torch_dtypes[np.dtype(kw["dtype"])]
        if x.dtype == BF16:
            return torch.from_numpy(x.view(np.int16).copy()).view(torch.bfloat16), kw
        return torch.from_numpy(x.copy()), kw  # (ascontiguousarray would make a 0-d array 1-d)

    def quantize(self, x, fmt="rf8", **kw):
        if self.backend != "torch":
            return rl.quantize(x, fmt, backend=self.backend, **kw)
        import torch

        from rf8lab import torch as rt

        t, kw = self._torch_args(x, kw)
        q = rt.quantize(t, fmt, **kw)
        return q.view(torch.int16).numpy().view(BF16) if q.dtype == torch.bfloat16 else q.numpy()

    def encode(self, x, fmt="rf8", **kw):
        """(codes, scale_exp or None, scale) as numpy arrays."""
        if self.backend != "torch":
            e = rl.encode(x, fmt, backend=self.backend, **kw)
            return e.codes, e.scale_exp, e.multiplier
        from rf8lab import torch as rt

        t, kw = self._torch_args(x, kw)
        e = rt.encode(t, fmt, **kw)
        return e.codes.numpy(), None if e.scale_exp is None else e.scale_exp.numpy(), e.multiplier.numpy()
