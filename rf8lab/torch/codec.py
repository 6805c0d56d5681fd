"""RF8 and the other formats on torch tensors, on any device, equal bit for bit to the NumPy codec.

A thin layer that picks an engine and converts nothing it need not:
- "numba" (the default on CPU): the tensor's memory is handed to rf8lab's own codec as a numpy view
  (bfloat16 through an int16 view), so CPU tensors get the Numba kernels at their speed, with no copy.
- "triton" (the default on CUDA where triton is installed): the kernels of rf8lab/torch/triton_codec.py;
  float64 input goes to the vectorized engine.
- "vectorized" (other devices, or CUDA without triton): the element rules of rf8lab/codec/vectorized.py and
  the scale rule of rf8lab/codec/scale_rule.py, written once for numpy and torch, run as torch operations
  on the tensor's device. Every input is widened to float64 (exact for float16, bfloat16 and float32).
All equal the exact reference (tests/test_torch_codec.py runs each on every float16 and bfloat16 pattern).
"""
from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import torch

from ..codec import api, vectorized
from ..codec.api import resolve
from ..codec.encoded import Encoded
from ..codec.layout import Layout
from ..codec.spec import as_spec
from ..optional import available, require
from ..policies import Overflow

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_NUMPY = {torch.float16: np.dtype(np.float16), torch.bfloat16: np.dtype(ml_dtypes.bfloat16),
          torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}
BACKENDS = ("auto", "numba", "triton", "vectorized")


def numpy_view(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor's memory as a numpy array (no copy; bfloat16 as ml_dtypes.bfloat16, through int16)."""
    t = t.detach().resolve_conj().resolve_neg()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def tensor_view(a: np.ndarray) -> torch.Tensor:
    """A numpy array as a CPU tensor sharing its memory (bfloat16 through int16; a read-only array is copied)."""
    if not a.flags.writeable:
        a = a.copy()
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _engine(backend: str, device: torch.device) -> str:
    """The engine that runs: "auto" is "numba" on CPU, "triton" on CUDA where triton is installed, else
    "vectorized". An explicit "triton" takes CUDA tensors, or CPU ones in Triton's interpreter (which rf8lab
    sets up where CUDA is absent; slow: for tests)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"backend='numba' runs on CPU tensors; this one is on {device}. Use 'vectorized' or 'auto'")
    if backend == "triton":
        if _triton_codec() is None:
            require("triton", "rf8lab.torch's backend='triton'")  # the ImportError that says how to install it
            from . import triton_codec  # noqa: F401 (triton is there: this raises the import's own error)
        if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError(f"backend='triton' runs on CUDA tensors (or anywhere in Triton's interpreter, which "
                             f"rf8lab sets up only where CUDA is absent); this tensor is on {device}")
    if backend == "auto":
        if device.type == "cpu":
            return "numba"
        return "triton" if device.type == "cuda" and _triton_codec() is not None else "vectorized"
    return backend


def _triton_codec():
    """rf8lab.torch.triton_codec, or None where triton is not installed."""
    return available("rf8lab.torch.triton_codec")


_GROUP_IDS: dict = {}  # (layout, device) -> each element's group, on that device


def _group_index(layout: Layout, device) -> torch.Tensor | None:
    """Group of each element (flat, int64; cached per layout and device), or None for one group."""
    if layout.granularity in (None, "tensor"):
        return None
    key = (layout, str(device))
    if key not in _GROUP_IDS:
        if len(_GROUP_IDS) > 256:  # bounded: one entry per distinct shape and device
            _GROUP_IDS.clear()
        ids = np.ascontiguousarray(layout.group_ids()).reshape(-1).astype(np.int64)
        _GROUP_IDS[key] = torch.from_numpy(ids).to(device)
    return _GROUP_IDS[key]


def _seed(rng) -> int:
    """The key in [0, 2^64) stochastic rounding draws from (vectorized.draw_bits): an int seed itself, or
    64 bits from a torch.Generator (None: torch's default generator, so torch.manual_seed repeats it)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if not 0 <= int(rng) < 2 ** 64:
            raise ValueError(f"an rng seed must be an integer in [0, 2^64); got {rng}")
        return int(rng)
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be None, an int seed or a torch.Generator; got {type(rng).__name__}")
    lo, hi = torch.randint(0, 2 ** 32, (2,), generator=rng, dtype=torch.int64).tolist()
    return lo | hi << 32


def _check(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng, random_bits):
    """(spec, explicit bits as uint32 numpy or None, seed or None)."""
    if not torch.is_tensor(x):
        raise TypeError(f"rf8lab.torch takes a torch.Tensor, got {type(x).__name__}; use rf8lab for numpy arrays")
    if x.dtype not in _FLOATS:
        raise TypeError(f"dtype {x.dtype} is not supported; use float16, bfloat16, float32 or float64")
    spec = as_spec(fmt, rounding, scale, overflow, axis, block, sr_bits)
    if not spec.rounding.stochastic:
        return spec, None, None
    top = 2 ** (32 if spec.sr_bits is None else spec.sr_bits)
    if random_bits is None:
        return spec, None, _seed(rng)
    if rng is not None:
        raise ValueError("pass either rng or random_bits, not both")
    if not torch.is_tensor(random_bits) or tuple(random_bits.shape) != tuple(x.shape) or \
            random_bits.dtype not in (torch.int64, torch.uint32, torch.int32):
        raise ValueError(f"random_bits must be an integer tensor of shape {tuple(x.shape)} with values in "
                         f"[0, {top}) (int64, int32 or uint32)")
    bits = random_bits.detach().to("cpu", torch.int64)
    if bits.numel() and (int(bits.min()) < 0 or int(bits.max()) >= top):
        raise ValueError(f"random_bits must be in [0, {top}) (below 2^sr_bits where sr_bits is given); "
                         f"got values in [{int(bits.min())}, {int(bits.max())}]")
    return spec, bits.numpy().astype(np.uint32), None


def encode(x: torch.Tensor, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None,
           sr_bits=None, rng=None, random_bits=None, backend="auto") -> Encoded:
    """Codes of x in `fmt` (arguments as rf8lab.encode; the Encoded holds torch tensors on x's device).

    Stochastic rounding draws element i's bits from (seed, i) as rf8lab.encode does, whatever the engine:
    `rng` is an int seed, a torch.Generator, or None (torch's default generator gives the seed, so
    torch.manual_seed repeats a run); `random_bits`, an integer tensor of x's shape, replays explicit
    bits instead. `backend`: "auto" (CPU: "numba", CUDA: "triton" where installed, else "vectorized"),
    "numba", "triton" or "vectorized".
    """
    spec, bits, seed = _check(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng, random_bits)
    engine = _engine(backend, x.device)
    if engine == "numba":
        e = api.encode(numpy_view(x), spec, rng=seed, random_bits=bits)
        return Encoded(tensor_view(e.codes), None if e.scale_exp is None else tensor_view(e.scale_exp),
                       tensor_view(np.asarray(e.multiplier)), spec, e.layout,
                       _out_dtype(None, x.dtype))
    return _encode_on_device(x, spec, bits, seed, engine)


def _encode_on_device(x, spec, bits, seed, engine) -> Encoded:
    """The "triton" engine's Encoded where its kernels take the request, else the "vectorized" engine's."""
    if spec.format.nan_codes is None and torch.isnan(x).any():
        raise ValueError(api.nan_message(spec.format))
    if engine == "triton" and _triton_codec().supports_encode(x, spec):
        rb = None if bits is None else torch.from_numpy(bits.astype(np.int64)).to(x.device)
        return _triton_codec().encode(x, spec, _out_dtype(None, x.dtype), seed, rb)
    return _encode_vectorized(x, spec, bits, seed)


def _encode_vectorized(x, spec, bits, seed) -> Encoded:
    f, layout = resolve(spec, x.shape)
    if seed is not None:
        bits = vectorized.random_bits(seed, x.shape, spec.sr_bits)
    rb = None if bits is None else torch.from_numpy(bits.reshape(-1).astype(np.int64)).to(x.device)
    flat = x.detach().reshape(-1).to(torch.float64)
    codes, X, mult = vectorized.encode_flat(flat, f, layout, spec.rounding, spec.overflow, rb,
                                            _group_index(layout, x.device), spec.sr_bits)
    shape = layout.scale_shape
    scale_exp = X.to(torch.int32).reshape(shape) if f.scale_codes else None
    return Encoded(codes.reshape(x.shape), scale_exp, mult.reshape(shape), spec, layout, _out_dtype(None, x.dtype))


def _out_dtype(dtype, in_dtype):
    if dtype is None:
        return torch.float64 if in_dtype == torch.float64 else torch.float32
    if dtype not in _FLOATS:
        raise TypeError(f"dtype={dtype!r} is not an output dtype; choose torch.float16, bfloat16, float32 or float64")
    return dtype


def _numpy_encoded(enc: Encoded) -> Encoded:
    """The same Encoded over numpy views of its (CPU) tensors."""
    return Encoded(numpy_view(enc.codes), None if enc.scale_exp is None else numpy_view(enc.scale_exp),
                   numpy_view(enc.multiplier), enc.spec, enc.layout, _NUMPY[enc.dtype])


def decode(enc: Encoded, dtype=torch.float32, *, out: torch.Tensor | None = None, backend="auto") -> torch.Tensor:
    """Values of the codes times their scales, rounded once to dtype (default float32, as rf8lab.decode).
    `out`: a tensor of the codes' shape, device and an output dtype (it sets the dtype) that receives the
    values and is returned; on CPU the kernel writes into it directly when it is contiguous."""
    if not isinstance(enc, Encoded) or not torch.is_tensor(enc.codes):
        raise TypeError("rf8lab.torch.decode takes an Encoded of torch tensors (from rf8lab.torch.encode); "
                        "decode numpy codes with rf8lab.decode")
    if out is not None:
        if not torch.is_tensor(out) or out.dtype not in _FLOATS or tuple(out.shape) != enc.shape \
                or out.device != enc.codes.device:
            got = (f"a {out.dtype} tensor of shape {tuple(out.shape)} on {out.device}" if torch.is_tensor(out)
                   else type(out).__name__)
            raise TypeError(f"out= takes a float16, bfloat16, float32 or float64 tensor of shape {enc.shape} on "
                            f"{enc.codes.device}; got {got}")
        if dtype is not torch.float32 and dtype is not None and dtype != out.dtype:
            raise ValueError(f"dtype={dtype} and out's dtype {out.dtype} disagree; give one of them")
        dtype = out.dtype
    dtype = _out_dtype(dtype if dtype is not None else enc.dtype, None)
    engine = _engine(backend, enc.codes.device)
    if engine == "numba":
        direct = out is not None and out.is_contiguous()
        values = api.decode(_numpy_encoded(enc), _NUMPY[dtype], out=numpy_view(out) if direct else None)
        if direct:
            return out
        values = tensor_view(values)
    elif engine == "triton":
        values = _triton_codec().decode(enc, dtype)
    else:
        values = _decode_vectorized(enc, dtype)
    if out is None:
        return values
    return out.copy_(values)


def _decode_vectorized(enc: Encoded, dtype) -> torch.Tensor:
    f = enc.spec.format
    codes = enc.codes.reshape(-1)
    X = (torch.zeros_like(enc.multiplier, dtype=torch.int64) if enc.scale_exp is None else enc.scale_exp).reshape(-1)
    mult = enc.multiplier.reshape(-1).to(torch.float64)
    out = vectorized.decode_flat(codes, f, X.to(torch.int64), mult, _group_index(enc.layout, codes.device), dtype)
    if enc.spec.overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE):  # never inf from a finite code
        out = vectorized.saturate_output(out, codes, f, X, mult, float(torch.finfo(dtype).max))
    return out.reshape(enc.codes.shape)


def quantize(x: torch.Tensor, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None,
             sr_bits=None, rng=None, random_bits=None, dtype=None, backend="auto") -> torch.Tensor:
    """x rounded onto fmt's grid: decode(encode(x, ...)) in float64 for float64 input, float32 otherwise,
    or dtype (as rf8lab.quantize; on CPU the Numba kernels' one pass straight to values)."""
    spec, bits, seed = _check(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng, random_bits)
    dtype = _out_dtype(dtype, x.dtype)
    engine = _engine(backend, x.device)
    if engine == "numba":
        return tensor_view(api.quantize(numpy_view(x), spec, rng=seed, random_bits=bits, dtype=_NUMPY[dtype]))
    enc = _encode_on_device(x, spec, bits, seed, engine)
    return _triton_codec().decode(enc, dtype) if engine == "triton" else _decode_vectorized(enc, dtype)
