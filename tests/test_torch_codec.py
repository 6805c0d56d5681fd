"""rf8lab.torch's codec equals the NumPy codec (itself proven equal to the exact reference) bit for bit."""
import importlib.util

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
# every engine on every device it runs on: the Numba kernels through numpy views (CPU), the vectorized codec,
# and the Triton kernels (CUDA; on CPU in Triton's interpreter, which rf8lab.torch sets up without CUDA)
CUDA, TRITON = torch.cuda.is_available(), importlib.util.find_spec("triton") is not None
ENGINES = ([("cpu", "numba"), ("cpu", "vectorized")] + [("cpu", "triton")] * (TRITON and not CUDA)
           + [("cuda", "vectorized")] * CUDA + [("cuda", "triton")] * (CUDA and TRITON))


TORCH_FAMILY = ("rf8", "e4m3", "e2m1", "int4", "nvfp4")


def _configs():
    # a few families: test_vectorized.test_torch_equals_numpy runs every format on its thresholds
    for fmt, r, o, s, sr_bits in configs(scales=True, every_format=False, family=TORCH_FAMILY):
        yield fmt, r, o, s, sr_bits


def _same(xn, xt, device="cpu", backend="auto", **kw):
    kwn, kwt = dict(kw), dict(kw)
    bits = random_bits(kw.get("rounding", "nearest"), kw.get("sr_bits"), xn.shape, seed=1)
    if bits is not None:
        kwn["random_bits"], kwt["random_bits"] = bits, torch.from_numpy(bits.astype(np.int64)).to(device)
    if rl.format_info(kw["fmt"]).nan_codes is None:  # drop NaNs (an error for formats without NaN)
        nan = np.isnan(xn.astype(np.float32))
        xn = np.where(nan, np.zeros((), xn.dtype), xn).astype(xn.dtype)
        xt = torch.where(torch.isnan(xt), torch.zeros((), dtype=xt.dtype), xt)
    a, b = rl.encode(xn, **kwn), rt.encode(xt.to(device), backend=backend, **kwt)
    codes = b.codes.cpu().numpy()
    bad = np.flatnonzero(a.codes.ravel() != codes.ravel())
    assert bad.size == 0, (kw, xn.dtype, xn.ravel()[bad[:4]], a.codes.ravel()[bad[:4]], codes.ravel()[bad[:4]])
    if a.scale_exp is not None:
        assert np.array_equal(a.scale_exp, b.scale_exp.cpu().numpy())
    qa, qb = rl.decode(a), rt.decode(b, backend=backend).cpu().numpy()
    assert qa.dtype == qb.dtype
    assert np.array_equal(qa.view(np.uint8), qb.view(np.uint8)), kw  # bit patterns, -0 and NaN included


@pytest.mark.parametrize("fmt,rounding,overflow,scale,sr_bits", list(_configs()))
def test_every_bf16_and_fp16_pattern(fmt, rounding, overflow, scale, sr_bits):
    for name, (xn, xt) in ALL.items():
        if rounding != "nearest" and name == "bfloat16":  # float16's 10 mantissa bits cover the other roundings
            continue
        if scale in ("channel", "block") or scale == "auto" and rl.format_info(fmt).block_format:
            xn, xt = xn.reshape(256, 256), xt.reshape(256, 256)
        for dev, backend in ENGINES:
            _same(xn, xt, dev, backend, fmt=fmt, rounding=rounding, overflow=overflow, scale=scale, sr_bits=sr_bits)


@pytest.mark.parametrize("fmt,rounding", [("rf8", "nearest"), ("rf8", "log"), ("rf8", "stochastic"),
                                          ("e4m3", "nearest"), ("e5m2", "nearest"), ("int8", "nearest"),
                                          ("mxfp8", "nearest")])
def test_float32_patterns(fmt, rounding):
    """2^20 float32 inputs per mode: every threshold and tie +-1 ulp at many scales, then random patterns."""
    rng = np.random.default_rng(7)
    pool = threshold_pool(fmt if fmt not in ("int8", "mxfp8") else "e4m3", np.float32)
    scaled = np.concatenate([pool * np.float32(2.0 ** k) for k in range(-30, 31, 6)])
    rand = rng.integers(0, 1 << 32, (1 << 20) - scaled.size, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([scaled, rand])
    x = np.where(np.isnan(x), np.float32(0), x) if fmt == "int8" else x
    scales = ("tensor", None) if fmt == "rf8" else ("block",) if fmt == "mxfp8" else ("tensor",)
    for dev, backend in ENGINES:
        for scale in scales:
            _same(x, torch.from_numpy(x.copy()), dev, backend, fmt=fmt, rounding=rounding, scale=scale)
        _same(x.reshape(1024, -1), torch.from_numpy(x.reshape(1024, -1).copy()), dev, backend, fmt=fmt,
              rounding=rounding, scale="channel" if fmt != "mxfp8" else "block")


def test_float64_thresholds():
    x = threshold_pool("rf8", np.float64)
    x = np.concatenate([x * 2.0 ** k for k in (-20, 0, 7)])
    for rounding in ("nearest", "log"):
        for dev, backend in ENGINES:
            _same(x, torch.from_numpy(x.copy()), dev, backend, fmt="rf8", rounding=rounding, scale="tensor")


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
        f = torch.compile(lambda t: rt.encode(t, "rf8", rounding="log", scale="channel", backend="vectorized").codes)
        assert torch.equal(f(x), rt.encode(x, "rf8", rounding="log", scale="channel").codes)


@pytest.mark.parametrize("rounding,sr_bits", [("stochastic", None), ("stochastic-even", 8)])
def test_seeded_stochastic_is_the_same_everywhere(rounding, sr_bits):
    """rng=seed draws the same bits as rf8lab.encode on every engine; torch.manual_seed repeats a run."""
    x = np.random.default_rng(3).standard_normal((96, 80)).astype(np.float32)
    want = rl.encode(x, "rf8", rounding=rounding, sr_bits=sr_bits, scale="channel", rng=12345).codes
    for dev, backend in ENGINES:
        got = rt.encode(torch.from_numpy(x).to(dev), "rf8", rounding=rounding, sr_bits=sr_bits, scale="channel",
                        rng=12345, backend=backend).codes
        np.testing.assert_array_equal(got.cpu().numpy(), want)
    t = torch.from_numpy(x)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(rt.quantize(t, "rf8", rounding=rounding, sr_bits=sr_bits))
    assert torch.equal(runs[0], runs[1])
    same, other = torch.Generator().manual_seed(7), torch.Generator().manual_seed(8)
    assert torch.equal(rt.quantize(t, "rf8", rounding=rounding, sr_bits=sr_bits, rng=same), runs[0])
    assert not torch.equal(rt.quantize(t, "rf8", rounding=rounding, sr_bits=sr_bits, rng=other), runs[0])
    with pytest.raises(ValueError, match="either rng or random_bits"):
        rt.encode(t, "rf8", rounding="stochastic", rng=1, random_bits=torch.zeros(t.shape, dtype=torch.int64))
    with pytest.raises(TypeError, match="rng must be"):
        rt.encode(t, "rf8", rounding="stochastic", rng=np.random.default_rng(1))


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "int8", "nvfp4"])
@pytest.mark.parametrize("seed", [12345, 2 ** 63 + 17, 2 ** 64 - 1])
def test_seeded_stochastic_with_special_elements(fmt, seed):
    """Drawn bits (seeds of every size) on every engine, with subnormal, infinite and NaN elements among normal
    ones (the elements the kernels hand to the exact rule draw the same bits)."""
    x = np.random.default_rng(5).standard_normal((48, 64)).astype(np.float32) * 0.05
    x[0, :6] = [1e-40, -3e-39, np.inf, -np.inf, 0.0, -0.0]
    if rl.format_info(fmt).nan_codes is not None:
        x[1, 3] = np.nan
    for dtype in (torch.float32, torch.bfloat16):
        xt = torch.from_numpy(x).to(dtype)
        want = rl.encode(rt.numpy_view(xt), fmt, rounding="stochastic", rng=seed).codes
        for dev, backend in ENGINES:
            got = rt.encode(xt.to(dev), fmt, rounding="stochastic", rng=seed, backend=backend).codes.cpu().numpy()
            np.testing.assert_array_equal(got, want, err_msg=f"{fmt} {dtype} {backend}")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_cpu_engine_shares_memory_and_takes_any_tensor(dtype):
    """The Numba engine reads the tensor's memory (no copy) and accepts tensors that need grad, strided
    views and every float dtype, with the vectorized engine's results."""
    base = torch.randn(70, 66, dtype=torch.float32).to(dtype).requires_grad_(True)
    view = base[::2, 1:].T  # strided, needs grad
    def round_trip(t, backend):
        return rt.decode(rt.encode(t, "rf8", scale="channel", backend=backend), backend=backend)

    def same_bits(a, b):
        return a.dtype == b.dtype and np.array_equal(rt.numpy_view(a).view(np.uint8), rt.numpy_view(b).view(np.uint8))

    for x in (base, view):
        for dt in (None, torch.bfloat16):
            assert same_bits(rt.quantize(x, "rf8", scale="channel", dtype=dt, backend="numba"),
                             rt.quantize(x, "rf8", scale="channel", dtype=dt, backend="vectorized"))
        assert same_bits(round_trip(x, "numba"), round_trip(x, "vectorized"))
    assert rt.numpy_view(base).ctypes.data == base.data_ptr()
    assert rt.tensor_view(rt.numpy_view(base)).data_ptr() == base.data_ptr()


def test_decode_out():
    x = torch.randn(64, 32)
    enc = rt.encode(x, "rf8", scale="channel")
    for backend in ("numba", "vectorized"):
        for dtype in (torch.float32, torch.bfloat16, torch.float64):
            out = torch.empty(64, 32, dtype=dtype)
            assert rt.decode(enc, out=out, backend=backend) is out
            assert torch.equal(out, rt.decode(enc, dtype, backend=backend))
        strided = torch.empty(32, 64).T
        assert torch.equal(rt.decode(enc, out=strided, backend=backend), rt.decode(enc))
    with pytest.raises(TypeError, match="out= takes"):
        rt.decode(enc, out=torch.empty(3, 3))
    with pytest.raises(ValueError, match="disagree"):
        rt.decode(enc, torch.float16, out=torch.empty(64, 32))
    with pytest.raises(ValueError, match="backend must be one of"):
        rt.encode(x, backend="cuda")
    with pytest.raises(ValueError, match="runs on CPU tensors"):
        rt.encode(torch.empty(3, device="meta"), backend="numba")


@pytest.mark.parametrize("fmt", ["rf8", "e5m2", "int8", "nvfp4"])
def test_decode_saturates_to_the_output_dtype_on_every_engine(fmt):
    """Finite codes whose value is beyond the output dtype's range decode to its largest finite value (sat-finite),
    the same bits on every engine, float64 output included."""
    x = torch.tensor([[3e38, -1e38, 2e37, 0.0, -5e30, 1.0]], dtype=torch.float32)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        want = rl.decode(rl.encode(x.numpy(), fmt), np.dtype(str(dtype).removeprefix("torch.")) if dtype not in (
            torch.bfloat16,) else ml_dtypes.bfloat16)
        for dev, backend in ENGINES:
            got = rt.decode(rt.encode(x.to(dev), fmt, backend=backend), dtype, backend=backend).cpu()
            assert torch.isfinite(got).all(), (fmt, dtype, backend, got)
            assert np.array_equal(rt.numpy_view(got).view(np.uint8), np.asarray(want).view(np.uint8)), (dtype, backend)


@pytest.mark.skipif(not TRITON, reason="triton is not installed (pip install 'rf8lab[triton]')")
@pytest.mark.parametrize("fmt", rl.format_names())
def test_triton_engine_on_every_format(fmt):
    """Every format at nearest with its default scale on every float16 pattern: the Triton engine (CUDA, or its
    interpreter) gives the NumPy codec's codes, scales and decoded bits (the other modes and layouts: above)."""
    xn, xt = ALL["float16"]
    shape = (256, 256) if rl.format_info(fmt).block_format else (-1,)
    _same(xn.reshape(shape), xt.reshape(shape), "cuda" if CUDA else "cpu", "triton", fmt=fmt)
