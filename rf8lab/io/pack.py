"""Packed checkpoints: `rf8lab pack` stores weight matrices as 8-bit codes plus their scales,
`rf8lab unpack` gives floats back.

A packed file is safetensors. A packed tensor `name` is stored as `name` (uint8 codes, one per byte; a
format narrower than a byte packs them densely, rf8lab.codec.bitpack: two FP4 codes per byte, four FP6
codes in three bytes, as a flat uint8 tensor) and `name.scale_exp` (int32 scale codes: exponents, or NVFP4's
E4M3 block-scale codes) or, for integer formats, `name.scale` (float64 multipliers); the metadata key
"rf8lab_pack" holds JSON with, per packed tensor, the format, rounding, overflow, random bits, scale layout,
code width, original dtype and shape, and NVFP4's float32 tensor scale.
Other tensors are copied unchanged.
"""
from __future__ import annotations

import fnmatch
import json

import numpy as np

from ..codec import api
from ..codec.bitpack import pack_codes, packed_size, unpack_codes
from ..codec.encoded import Encoded
from ..codec.layout import make_layout
from ..codec.scale_rule import nv_multipliers, nv_tensor_scale
from ..codec.spec import QuantSpec, weight_spec
from ..policies import ScaleRule
from .checkpoints import load
from .files import CheckpointError
from .safetensors import read_metadata
from .safetensors import write as write_safetensors

KEY = "rf8lab_pack"
VERSION = 1


def pack(src, dst, fmt="rf8", rounding=None, scale="auto", overflow=None, block=None,
         tensors: str | None = None, min_ndim: int = 2, sr_bits: int | None = None) -> dict:
    """Pack every floating tensor with at least `min_ndim` dimensions (and matching the globs in
    `tensors`, comma-separated) of the checkpoint `src` into `dst`. `fmt` is a format name, a spec string or
    a QuantSpec; the other arguments, where given, replace its fields, and a matrix gets per-channel scales
    where nothing names a scale (rf8lab.codec.spec.weight_spec). Returns a summary."""
    spec = weight_spec(fmt, rounding=rounding, scale=None if scale == "none" else scale, overflow=overflow,
                       block=block, sr_bits=sr_bits)
    arrays = load(src)
    globs = [g.strip() for g in tensors.split(",")] if tensors else None
    out, meta = {}, {}
    before = after = 0
    for name, a in arrays.items():
        before += a.nbytes
        is_float = a.dtype.kind == "f" or a.dtype.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2")
        if is_float and a.ndim >= min_ndim and (globs is None or any(fnmatch.fnmatchcase(name, g) for g in globs)):
            enc = api.encode(a, spec)
            bits = spec.format.bits
            out[name] = enc.codes if bits == 8 else pack_codes(enc.codes, bits)
            extra = {}
            if enc.scale_exp is not None:
                out[name + ".scale_exp"] = np.asarray(enc.scale_exp, np.int32).reshape(enc.layout.scale_shape)
                if spec.format.scale_rule == ScaleRule.NV:  # E4M3 block codes; the float32 tensor scale
                    extra["tensor_scale"] = nv_tensor_scale(spec.format, enc.scale_exp, enc.multiplier)
            else:
                out[name + ".scale"] = np.asarray(enc.multiplier, np.float64).reshape(enc.layout.scale_shape)
            lay = enc.layout
            meta[name] = {"fmt": spec.fmt, "rounding": spec.rounding, "overflow": spec.overflow,
                          "granularity": lay.granularity,
                          "axis": lay.axis, "block": lay.block, "dtype": str(a.dtype), "shape": list(a.shape),
                          "bits": bits, "sr_bits": spec.sr_bits, **extra}
        else:
            out[name] = a
    if not meta:
        raise CheckpointError(f"{src}: nothing to pack: no floating tensor with at least {min_ndim} dimensions"
                              + (f" matches {tensors}" if tensors else ""))
    for name in out:
        after += out[name].nbytes
    write_safetensors(dst, out, {KEY: json.dumps({"version": VERSION, "tensors": meta})})
    return {"packed": len(meta), "copied": len(arrays) - len(meta), "bytes_in": before, "bytes_out": after,
            "spec": spec.key}


def _meta(path) -> dict:
    md = read_metadata(path)
    if KEY not in md:
        raise CheckpointError(f"{path} is not an rf8lab pack file (no '{KEY}' metadata); make one with rf8lab pack")
    try:
        m = json.loads(md[KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: the '{KEY}' metadata is not valid JSON ({e})") from None
    if m.get("version") != VERSION:
        raise CheckpointError(f"{path}: pack version {m.get('version')!r} is not supported "
                              f"(this rf8lab reads {VERSION})")
    return m["tensors"]


def unpack(src, dst=None, dtype: str | None = None) -> dict:
    """Floats back from a packed file: each packed tensor decoded into its original dtype (or
    `dtype`). Writes them to dst if given; returns the dict of arrays."""

    info = _meta(src)
    arrays = load(src)
    out = {}
    for name, a in arrays.items():
        if name.endswith((".scale_exp", ".scale")) and name.rsplit(".", 1)[0] in info:
            continue
        if name not in info:
            out[name] = a
            continue
        t = info[name]
        bits = t.get("bits", 8)
        if not isinstance(bits, int) or not 1 <= bits <= 8:
            raise CheckpointError(f"{src}: packed tensor {name!r} has code width {bits!r}; expected 1..8 bits")
        count = int(np.prod(t["shape"], dtype=np.int64))
        want = t["shape"] if bits == 8 else [packed_size(count, bits)]
        if a.dtype != np.uint8 or list(a.shape) != want:
            raise CheckpointError(f"{src}: packed tensor {name!r} should be uint8 codes of shape {want}, "
                                  f"found {a.dtype} {list(a.shape)}")
        if bits != 8:
            a = unpack_codes(a, bits, count).reshape(t["shape"])
        layout = make_layout(a.shape, t["granularity"], t["axis"], t["block"])
        last = len(t["shape"]) - 1 if t["granularity"] == "block" else None  # the default axis is stored as None
        spec = QuantSpec(t["fmt"], t["rounding"], t["granularity"], t["overflow"],
                         None if t["axis"] == last else t["axis"], t["block"], t.get("sr_bits"))
        absmax = not spec.format.scale_codes
        sname = name + (".scale" if absmax else ".scale_exp")
        if sname not in arrays:
            raise CheckpointError(f"{src}: packed tensor {name!r} has no {sname!r}")
        s = arrays[sname]
        if tuple(s.shape) != tuple(layout.scale_shape):
            raise CheckpointError(f"{src}: {sname!r} has shape {tuple(s.shape)}, the layout needs {layout.scale_shape}")
        if absmax:
            mult = np.asarray(s, np.float64)
        elif spec.format.scale_rule == ScaleRule.NV:
            ts = t.get("tensor_scale")
            sf = spec.format.block_format.scale_format.codes
            if not isinstance(ts, float) or not ts > 0 or s.size and not (0 < int(s.min()) and int(s.max()) < 0x7F):
                raise CheckpointError(f"{src}: packed NVFP4 tensor {name!r} needs a positive tensor_scale and E4M3 "
                                      f"block codes 1..0x7E ({sf.name}); found {ts!r}")
            mult = nv_multipliers(spec.format, np.asarray(s, np.int64), ts)
        else:
            mult = np.ldexp(1.0, np.asarray(s, np.int64))
        enc = Encoded(codes=a, scale_exp=None if absmax else np.asarray(s, np.int32), multiplier=mult,
                      spec=spec, layout=layout, dtype=np.dtype(np.float32))
        out[name] = api.decode(enc, np.dtype(dtype or t["dtype"]))
    if dst is not None:
        write_safetensors(dst, out)
    return out
