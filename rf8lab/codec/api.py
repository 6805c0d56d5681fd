"""Public codec API: arguments checked once (a QuantSpec and a Layout), backend choice."""
from __future__ import annotations

import sys

import numpy as np

from ..formats import Format, format_names, get_format
from ..policies import Overflow
from . import numba_backend, reference, vectorized
from .encoded import Encoded
from .layout import Layout, make_layout
from .spec import QuantSpec, as_spec

# ml_dtypes is imported only when a call needs it (its import takes about a second): an array of one of its
# types means the caller has imported it already.
_ML_FLOATS = ("bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
              "float8_e4m3b11fnuz", "float8_e4m3", "float8_e3m4", "float8_e8m0fnu",
              "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn")
_OUT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _is_ml_float(dt: np.dtype) -> bool:
    return dt.type.__module__ == "ml_dtypes" and dt.name in _ML_FLOATS


def _is_out_dtype(dt: np.dtype) -> bool:
    return dt.name in _OUT_DTYPES and (dt.kind == "f" or _is_ml_float(dt))


def _finfo_max(dt: np.dtype) -> float:
    if dt.kind == "f":
        return float(np.finfo(dt).max)
    import ml_dtypes
    return float(ml_dtypes.finfo(dt).max)


_ACCEPTED = "float16, bfloat16, float8 (ml_dtypes), float32, float64 or integer arrays"
BACKENDS = ("auto", "numba", "vectorized", "reference")


# ---- argument checking -------------------------------------------------------------------------
def as_input(x) -> np.ndarray:
    """x as an ndarray of an accepted dtype, or TypeError saying what is accepted."""
    a = np.asarray(x)
    dt = a.dtype
    if dt.kind in "iu":
        return a
    if dt.kind == "f" and dt.itemsize in (2, 4, 8):
        return a
    if _is_ml_float(dt):
        return a
    raise TypeError(f"rf8lab cannot quantize an array of dtype {dt}; it accepts {_ACCEPTED}")


def _out_dtype(dtype, in_dtype: np.dtype) -> np.dtype:
    if dtype is None:  # float64 stays float64, integers widen to float64, the rest fit in float32
        return np.dtype(np.float64) if in_dtype.kind in "iu" or in_dtype == np.float64 else np.dtype(np.float32)
    if isinstance(dtype, str) and dtype == "bfloat16" and "ml_dtypes" not in sys.modules:
        import ml_dtypes  # noqa: F401  (numpy knows the name "bfloat16" once ml_dtypes is imported)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not _is_out_dtype(dt):
        raise TypeError(f"dtype={dtype!r} is not an output dtype; choose float16, bfloat16, float32 or float64")
    return dt


def _randomness(rng, random_bits, shape, sr_bits: int | None = None):
    """(bits, seed) of stochastic rounding: explicit uint32 bits, one per element (in [0, 2^32), or below
    2^sr_bits when the spec names sr_bits), or the key in [0, 2^64) from which the codec draws them
    (vectorized.draw_bits): an int seed itself, one draw from a Generator, or fresh entropy for None."""
    top = 2 ** (32 if sr_bits is None else sr_bits)
    if random_bits is not None:
        if rng is not None:
            raise ValueError("pass either rng or random_bits, not both")
        bits = np.asarray(random_bits)
        if bits.dtype != np.uint32 or bits.shape != tuple(shape):
            raise ValueError(f"random_bits must be a uint32 array of shape {tuple(shape)}; "
                             f"got {bits.dtype} of shape {bits.shape}")
        if sr_bits is not None and bits.size and int(bits.max()) >= top:
            raise ValueError(f"random_bits must be below 2^sr_bits = {top}; got {int(bits.max())}")
        return bits, None
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if not 0 <= int(rng) < 2 ** 64:
            raise ValueError(f"an rng seed must be an integer in [0, 2^64); got {rng}")
        return None, int(rng)
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be None, an int seed or a numpy Generator; got {type(rng).__name__}")
    return None, int(rng.integers(0, 2 ** 64, dtype=np.uint64))


def _backend(backend: str):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    return {"reference": reference, "vectorized": vectorized}.get(backend, numba_backend)


# ---- public functions --------------------------------------------------------------------------
def encode(x, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None, sr_bits=None,
           rng=None, random_bits=None, backend="auto") -> Encoded:
    """Encode x into codes of `fmt` (one per uint8, 2^bits of them) with shared scales.

    fmt       a format name ("rf8", "e4m3", ... rf8lab.format_names()), a spec string ("rf8:log:none", see
              rf8lab.QuantSpec) or a QuantSpec; the arguments below, where given, replace its fields
    rounding  "nearest" (ties to even rank; the default), "nearest-away", "toward-zero", "toward-positive",
              "toward-negative", "to-odd", "stochastic" (and its gfloat variants "stochastic-fast",
              "stochastic-even", "stochastic-odd", which need sr_bits), or "log" (RF8 only: the paper's rule);
              rf8lab.policies.Rounding says what each does
    scale     "auto" (the spec's, or the format's default: "tensor", or "block" for the block formats), None
              (X = 0), "tensor", "channel" (along `axis`, default 0) or "block" (`block` elements, default
              the format's: 32, NVFP4 16; along `axis`, default last)
    overflow  P3109's "sat-finite" (clamp to +-max; the default; rf8lab 0.1's "saturate"), "sat-propagate"
              (finite values clamp, infinities stay) and "ovf-inf" (to +-inf; 0.1's "inf") where the format
              has inf, or "nan" where it has NaN
    sr_bits   stochastic rounding with this many random bits (P3109: added below the kept precision, then
              truncated); None: the exact-probability rule (up iff bits / 2^32 < the fraction of the way)
    rng / random_bits  the randomness of stochastic rounding: an int seed in [0, 2^64), a Generator (one
              draw gives the seed) or None (fresh entropy); the codec draws element i's bits from (seed, i)
              with SplitMix64, the same on every backend and thread count (rf8lab.codec.random_bits(seed,
              shape, sr_bits) returns them). Or random_bits: one uint32 per element (below 2^sr_bits when
              sr_bits is given), replayed exactly
    """
    x, spec, f, layout, bits, seed = _request(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng,
                                              random_bits)
    return _encode(x, spec, f, layout, bits, seed, _backend(backend))


def resolve(spec: QuantSpec, shape) -> tuple[Format, Layout]:
    """The Format the codec runs and the Layout of its scales for a checked spec on an array of this shape
    (shared by rf8lab.torch)."""
    f = spec.format
    block = (spec.block or f.default_block) if spec.scale == "block" else None
    return f, make_layout(tuple(shape), spec.scale, spec.axis, block)


def _request(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng, random_bits):
    """Check every argument of encode/quantize; (x, QuantSpec, Format, Layout, random bits, seed); the
    last two are None unless the rounding is stochastic, and one of them is then."""
    spec = as_spec(fmt, rounding, scale, overflow, axis, block, sr_bits)  # a bad spec is reported before a bad input
    x = as_input(x)
    f, layout = resolve(spec, x.shape)
    if f.nan_codes is None and x.dtype.kind in "fV" and _has_nan(x):
        raise ValueError(nan_message(f))
    bits, seed = _randomness(rng, random_bits, x.shape, spec.sr_bits) if spec.rounding.stochastic else (None, None)
    return x, spec, f, layout, bits, seed


def nan_message(f: Format) -> str:
    """The error for NaN input to a format without a NaN code (numpy and torch alike)."""
    return (f"{f.name} has no NaN code and the input contains NaN; remove or replace the NaNs "
            "(e.g. with nan_to_num) first")


def _has_nan(x: np.ndarray) -> bool:
    if x.dtype in (np.float16, np.float32, np.float64):  # max propagates NaN: one pass, no copy
        return x.size > 0 and bool(np.isnan(np.max(x)))
    with np.errstate(over="ignore", invalid="ignore"):  # ml_dtypes types: through float32
        return bool(np.isnan(x.astype(np.float32)).any())


def _encode(x, spec: QuantSpec, f: Format, layout: Layout, bits, seed, backend) -> Encoded:
    if backend is numba_backend:  # the kernels draw the bits themselves
        codes, scale_exp, mult = backend.encode(x, f, layout, spec.rounding, spec.overflow, bits, spec.sr_bits, seed)
    else:
        if seed is not None:
            bits = vectorized.random_bits(seed, x.shape, spec.sr_bits)
        codes, scale_exp, mult = backend.encode(x, f, layout, spec.rounding, spec.overflow, bits, spec.sr_bits)
    return Encoded(codes=codes, scale_exp=scale_exp if f.scale_codes else None, multiplier=mult,
                   spec=spec, layout=layout, dtype=_out_dtype(None, x.dtype))


def _check_out(out) -> None:
    """decode's out= must be a plain, writeable, C-contiguous ndarray of an output dtype."""
    if type(out) is not np.ndarray:
        problem = type(out).__name__
    else:
        faults = [what for what, bad in ((f"of dtype {out.dtype}", not _is_out_dtype(out.dtype)),
                                         ("not C-contiguous", not out.flags.c_contiguous),
                                         ("read-only", not out.flags.writeable)) if bad]
        if not faults:
            return
        problem = "an ndarray " + ", ".join(faults)
    raise TypeError(f"out= takes a writeable C-contiguous numpy array of float16, bfloat16, float32 or float64; "
                    f"got {problem}")


def decode(enc, dtype=np.float32, *, fmt=None, out=None, backend="auto") -> np.ndarray:
    """Values of the codes times their scales, rounded once to `dtype` (default float32).

    `enc` is an Encoded, or a plain uint8 array of codes together with `fmt=` (read unscaled, X = 0).
    `out`, as in numpy's ufuncs: a writeable C-contiguous array of the codes' shape and of an output dtype
    (float16, bfloat16, float32, float64; it sets the dtype, and a `dtype` other than the default must agree)
    that receives the values and is returned; a plain ndarray, not a subclass (a matrix reshapes otherwise). A
    buffer used again saves the page faults of a fresh array, which cost a large decode as much as its
    arithmetic.
    """
    if out is not None:
        _check_out(out)
        if dtype is not np.float32 and dtype is not None and _out_dtype(dtype, out.dtype) != out.dtype:
            raise ValueError(f"dtype={np.dtype(dtype)} and out's dtype {out.dtype} disagree; give one of them")
        dtype = out.dtype
    if not isinstance(enc, Encoded):
        codes = np.asarray(enc)
        if fmt is None or codes.dtype != np.uint8:
            raise TypeError("decode takes an rf8lab.Encoded, or a uint8 array of codes with fmt=...; "
                            f"got {type(enc).__name__}" + (f" of dtype {codes.dtype}" if fmt else " without fmt"))
        spec = as_spec(fmt)  # the codes are read unscaled whatever scale the spec names
        enc = Encoded(codes=codes, scale_exp=None if not spec.format.scale_codes
                      else np.zeros((), np.int32), multiplier=np.ones(()), spec=spec,
                      layout=make_layout(codes.shape, None), dtype=np.dtype(np.float32))
    elif not isinstance(enc.codes, np.ndarray):
        raise TypeError(f"this Encoded holds {type(enc.codes).__module__.split('.')[0]} arrays; "
                        "decode it with rf8lab.torch.decode")
    elif fmt is not None and as_spec(fmt).fmt != enc.fmt:
        raise ValueError(f"fmt={fmt!r} does not match the Encoded's format {enc.fmt!r}")
    f = enc.spec.format
    dtype = _out_dtype(dtype, enc.dtype)
    scale_exp = enc.scale_exp if enc.scale_exp is not None else np.zeros(enc.layout.scale_shape, np.int32)
    if out is not None and out.shape != enc.codes.shape:
        raise ValueError(f"out has shape {out.shape}; the codes have shape {enc.codes.shape}")
    be = _backend(backend)
    if be is numba_backend:
        values = be.decode(enc.codes, f, enc.layout, scale_exp, enc.multiplier, dtype, out=out)
    else:
        values = be.decode(enc.codes, f, enc.layout, scale_exp, enc.multiplier, dtype)
    if enc.spec.overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE):  # finite values saturate
        values = vectorized.saturate_output(values, enc.codes, f, np.asarray(scale_exp).reshape(-1),
                                            np.asarray(enc.multiplier).reshape(-1), _finfo_max(dtype))
    if out is None:
        return values
    if values.ctypes.data != out.ctypes.data:  # the kernel wrote elsewhere (a narrow dtype, another backend)
        np.copyto(out, values)
    return out


def quantize(x, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None, sr_bits=None,
             rng=None, random_bits=None, dtype=None, backend="auto") -> np.ndarray:
    """x rounded onto the grid of `fmt` (same shape; arguments as encode). Returns float64 for float64
    and integer input, float32 otherwise, or `dtype`. Equal to decode(encode(x, ...), dtype)."""
    x, spec, f, layout, bits, seed = _request(x, fmt, rounding, scale, overflow, axis, block, sr_bits, rng,
                                              random_bits)
    out = _out_dtype(dtype, x.dtype)
    be = _backend(backend)
    if be is numba_backend:  # one pass straight to values where the kernels allow it
        fused = numba_backend.quantize_fused(x, f, layout, spec.rounding, spec.overflow, out, bits, spec.sr_bits,
                                             seed)
        if fused is not None:
            return fused
    return decode(_encode(x, spec, f, layout, bits, seed, be), out, backend=backend)


def value_table(fmt="rf8") -> np.ndarray:
    """The 256 code values at X = 0 as float64 (NaN for NaN codes, +-inf, -0.0 where they exist; a format of
    fewer than 8 bits has 2^bits codes, and NaN past them)."""
    return np.array(get_format(fmt).values, np.float64)


def format_info(fmt="rf8") -> Format:
    """The Format object: exact code meanings, magnitudes, max, next_up, modes."""
    return get_format(fmt)


__all__ = ["Encoded", "QuantSpec", "encode", "decode", "quantize", "value_table", "format_names", "format_info"]
