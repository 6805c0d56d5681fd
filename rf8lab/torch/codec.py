"""RF8 and the other formats on torch tensors, on any device, equal bit for bit to the NumPy codec.

A thin layer: the scale rule (rf8lab/codec/scale_rule.py) and the element rules (rf8lab/codec/vectorized.py) are
the ones numpy uses, written once for both libraries. Every input is widened to float64 (exact for
float16, bfloat16 and float32); nothing depends on the device, so the same code runs on CPU and CUDA.
"""
from __future__ import annotations

import numpy as np
import torch

from ..codec import vectorized
from ..codec.api import resolve
from ..codec.encoded import Encoded
from ..codec.layout import Layout
from ..codec.spec import as_spec
from ..policies import Overflow

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


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


def _check(x, fmt, rounding, scale, overflow, axis, block, sr_bits, random_bits):
    if not torch.is_tensor(x):
        raise TypeError(f"rf8lab.torch takes a torch.Tensor, got {type(x).__name__}; use rf8lab for numpy arrays")
    if x.dtype not in _FLOATS:
        raise TypeError(f"dtype {x.dtype} is not supported; use float16, bfloat16, float32 or float64")
    spec = as_spec(fmt, rounding, scale, overflow, axis, block, sr_bits)
    f, layout = resolve(spec, x.shape)
    if f.nan_codes is None and torch.isnan(x).any():
        raise ValueError(f"{f.name} has no NaN code and the input contains NaN; "
                         "remove or replace the NaNs (e.g. torch.nan_to_num) first")
    if spec.rounding.stochastic:
        top = 2 ** (32 if spec.sr_bits is None else spec.sr_bits)
        if random_bits is None:
            random_bits = torch.randint(0, top, tuple(x.shape), dtype=torch.int64, device=x.device)
        elif not torch.is_tensor(random_bits) or tuple(random_bits.shape) != tuple(x.shape) or \
                random_bits.dtype not in (torch.int64, torch.uint32, torch.int32):
            raise ValueError(f"random_bits must be an integer tensor of shape {tuple(x.shape)} with values in "
                             f"[0, {top}) (int64, or uint32)")
        random_bits = random_bits.to(torch.int64) & 0xFFFFFFFF
        if spec.sr_bits is not None and random_bits.numel() and int(random_bits.max()) >= top:
            raise ValueError(f"random_bits must be below 2^sr_bits = {top}; got {int(random_bits.max())}")
    return spec, f, layout, random_bits


def encode(x: torch.Tensor, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None,
           sr_bits=None, random_bits=None) -> Encoded:
    """Codes of x in `fmt` (as rf8lab.encode, with torch tensors in the Encoded; stochastic rounding draws
    from torch's generator unless random_bits, an integer tensor of x's shape with values in [0, 2^32), is
    given)."""
    spec, f, layout, rbits = _check(x, fmt, rounding, scale, overflow, axis, block, sr_bits, random_bits)
    flat = x.detach().reshape(-1).to(torch.float64)
    rb = None if rbits is None else rbits.reshape(-1)
    codes, X, mult = vectorized.encode_flat(flat, f, layout, spec.rounding, spec.overflow, rb,
                                            _group_index(layout, x.device), spec.sr_bits)
    shape = layout.scale_shape
    scale_exp = X.to(torch.int32).reshape(shape) if f.scale_codes else None
    return Encoded(codes.reshape(x.shape), scale_exp, mult.reshape(shape), spec, layout, _out_dtype(None, x.dtype))


def _out_dtype(dtype, in_dtype):
    if dtype is not None:
        return dtype
    return torch.float64 if in_dtype == torch.float64 else torch.float32


def decode(enc: Encoded, dtype=torch.float32) -> torch.Tensor:
    """Values of the codes times their scales, rounded once to dtype (default float32, as
    rf8lab.decode)."""
    if not isinstance(enc, Encoded) or not torch.is_tensor(enc.codes):
        raise TypeError("rf8lab.torch.decode takes an Encoded of torch tensors (from rf8lab.torch.encode); "
                        "decode numpy codes with rf8lab.decode")
    f, dtype = enc.spec.format, enc.dtype if dtype is None else dtype
    codes = enc.codes.reshape(-1)
    X = (torch.zeros_like(enc.multiplier, dtype=torch.int64) if enc.scale_exp is None else enc.scale_exp).reshape(-1)
    mult = enc.multiplier.reshape(-1).to(torch.float64)
    out = vectorized.decode_flat(codes, f, X.to(torch.int64), mult, _group_index(enc.layout, codes.device), dtype)
    if enc.spec.overflow in (Overflow.SAT_FINITE, Overflow.SAT_PROPAGATE):  # never inf from a finite code
        out = vectorized.saturate_output(out, codes, f, X, mult, float(torch.finfo(dtype).max))
    return out.reshape(enc.codes.shape)


def quantize(x: torch.Tensor, fmt="rf8", *, rounding=None, scale="auto", overflow=None, axis=None, block=None,
             sr_bits=None, random_bits=None, dtype=None) -> torch.Tensor:
    """x rounded onto fmt's grid: decode(encode(x, ...)) in float64 for float64 input, float32
    otherwise, or dtype (as rf8lab.quantize)."""
    return decode(encode(x, fmt, rounding=rounding, scale=scale, overflow=overflow, axis=axis, block=block,
                         sr_bits=sr_bits, random_bits=random_bits), _out_dtype(dtype, x.dtype))
