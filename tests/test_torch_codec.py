"""rf8lab.torch's codec equals the NumPy codec (itself proven equal to the exact reference) bit for bit."""

import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl

from .helpers import configs, random_bits, threshold_pool

torch = pytest.importorskip("torch")
from rf8lab import torch as rt  # noqa: E402

PATTERNS = np.arange(1 << 16, dtype=np.uint16)
ALL = {"bfloat16": (PATTERNS.view(ml_dtypes.bfloat16),
                    torch.from_numpy(PATTERNS.view(np.int16).copy()).view(torch.bfloat16)),
       "float16": (PATTERNS.view(np.float16), torch.from_numpy(PATTERNS.view(np.float16).copy()))}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


TORCH_FAMILY = ("rf8", "e4m3", "e2m1", "int4", "nvfp4")


def _configs():
    # a few families: test_vectorized.test_torch_equals_numpy runs every format on its thresholds
    for fmt, r, o, s, sr_bits in configs(scales=True, every_format=False, family=TORCH_FAMILY):
        yield fmt, r, o, s, sr_bits


def _same(xn, xt, device="cpu", **kw):
    kwn, kwt = dict(kw), dict(kw)
    bits = random_bits(kw.get("rounding", "nearest"), kw.get("sr_bits"), xn.shape, seed=1)
    if bits is not None:
        kwn["random_bits"], kwt["random_bits"] = bits, torch.from_numpy(bits.astype(np.int64)).to(device)
    if rl.format_info(kw["fmt"]).nan_codes is None:  # drop NaNs (an error for formats without NaN)
        nan = np.isnan(xn.astype(np.float32))
        xn = np.where(nan, np.zeros((), xn.dtype), xn).astype(xn.dtype)
        xt = torch.where(torch.isnan(xt), torch.zeros((), dtype=xt.dtype), xt)
    a, b = rl.encode(xn, **kwn), rt.encode(xt.to(device), **kwt)
    codes = b.codes.cpu().numpy()
    bad = np.flatnonzero(a.codes.ravel() != codes.ravel())
    assert bad.size == 0, (kw, xn.dtype, xn.ravel()[bad[:4]], a.codes.ravel()[bad[:4]], codes.ravel()[bad[:4]])
    if a.scale_exp is not None:
        assert np.array_equal(a.scale_exp, b.scale_exp.cpu().numpy())
    qa, qb = rl.decode(a), rt.decode(b).cpu().numpy()
    assert qa.dtype == qb.dtype
    assert np.array_equal(qa.view(np.uint8), qb.view(np.uint8)), kw  # bit patterns, -0 and NaN included


@pytest.mark.parametrize("fmt,rounding,overflow,scale,sr_bits", list(_configs()))
def test_every_bf16_and_fp16_pattern(fmt, rounding, overflow, scale, sr_bits):
    for name, (xn, xt) in ALL.items():
        if rounding != "nearest" and name == "bfloat16":  # float16's 10 mantissa bits cover the other roundings
            continue
        if scale in ("channel", "block") or scale == "auto" and rl.format_info(fmt).block_format:
            xn, xt = xn.reshape(256, 256), xt.reshape(256, 256)
        for dev in DEVICES:
            _same(xn, xt, dev, fmt=fmt, rounding=rounding, overflow=overflow, scale=scale, sr_bits=sr_bits)


@pytest.mark.parametrize("fmt,rounding", [("rf8", "nearest"), ("rf8", "log"), ("rf8", "stochastic"),
                                          ("e4m3", "nearest"), ("e5m2", "nearest"), ("int8", "nearest"),
                                          ("mxfp8", "nearest")])
def test_float32_patterns(fmt, rounding):
    """2^22 float32 inputs per mode: every threshold and tie +-1 ulp at many scales, then random patterns."""
    rng = np.random.default_rng(7)
    pool = threshold_pool(fmt if fmt not in ("int8", "mxfp8") else "e4m3", np.float32)
    scaled = np.concatenate([pool * np.float32(2.0 ** k) for k in range(-30, 31, 6)])
    rand = rng.integers(0, 1 << 32, (1 << 22) - scaled.size, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([scaled, rand])
    x = np.where(np.isnan(x), np.float32(0), x) if fmt == "int8" else x
    scales = ("tensor", None) if fmt == "rf8" else ("block",) if fmt == "mxfp8" else ("tensor",)
    for scale in scales:
        _same(x, torch.from_numpy(x.copy()), fmt=fmt, rounding=rounding, scale=scale)
    _same(x.reshape(1024, -1), torch.from_numpy(x.reshape(1024, -1).copy()), fmt=fmt, rounding=rounding,
          scale="channel" if fmt != "mxfp8" else "block")


def test_float64_thresholds():
    x = threshold_pool("rf8", np.float64)
    x = np.concatenate([x * 2.0 ** k for k in (-20, 0, 7)])
    for rounding in ("nearest", "log"):
        _same(x, torch.from_numpy(x.copy()), fmt="rf8", rounding=rounding, scale="tensor")


def test_quantize_and_dtypes():
    x = torch.randn(64, 48, dtype=torch.bfloat16)
    q = rt.quantize(x, "rf8", scale="channel")
    assert q.dtype == torch.float32 and q.shape == x.shape
    np.testing.assert_array_equal(q.numpy(), rl.quantize(x.float().numpy(), "rf8", scale="channel"))
    assert rt.quantize(x.double(), "e4m3").dtype == torch.float64
    assert rt.quantize(x, "rf8", dtype=torch.bfloat16).dtype == torch.bfloat16
    e = rt.encode(x, "rf8", scale="block", block=16)
    assert e.codes.dtype == torch.uint8 and tuple(e.scale_exp.shape) == (64, 3)


def test_errors():
    with pytest.raises(TypeError, match="takes a torch.Tensor"):
        rt.encode(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="is not supported"):
        rt.encode(torch.zeros(3, dtype=torch.int32))
    with pytest.raises(ValueError, match="no NaN code"):
        rt.encode(torch.tensor([float("nan")]), "int8")
    with pytest.raises(ValueError, match="rounding='log' is not available for e4m3"):
        rt.encode(torch.zeros(3), "e4m3", rounding="log")
    with pytest.raises(ValueError, match="random_bits must be"):
        rt.encode(torch.zeros(3), "rf8", rounding="stochastic", random_bits=torch.zeros(4, dtype=torch.int64))


def test_torch_compile():
    """torch.compile with the default (inductor) backend gives the same codes."""
    import warnings

    x = torch.randn(128, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = torch.compile(lambda t: rt.encode(t, "rf8", rounding="log", scale="channel").codes)
        assert torch.equal(f(x), rt.encode(x, "rf8", rounding="log", scale="channel").codes)
