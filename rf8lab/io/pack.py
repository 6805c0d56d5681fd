"""Packed checkpoints: `rf8lab pack` stores weight matrices as 8-bit codes plus their scales,
`rf8lab unpack` gives floats back.

A packed file is safetensors. A packed tensor `name` is stored as `name` (uint8 codes, one per byte; a
format narrower than a byte packs them densely, rf8lab.codec.bitpack: two FP4 codes per byte, four FP6
codes in three bytes, as a flat uint8 tensor) and `name.scale_exp` (int32 scale codes: exponents, or NVFP4's
E4M3 block-scale codes) or, for integer formats, `name.scale` (float64 multipliers); the metadata key
"rf8lab_pack" holds JSON with, per packed tensor, the format, rounding, overflow, random bits, scale layout,
code width, original dtype and shape, and NVFP4's float32 tensor scale.
Other tensors are copied unchanged. A sharded checkpoint (a Hugging Face folder) packs into a folder of
packed shards, each a packed file as above, with its own index.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..codec import api
from ..codec.bitpack import pack_codes, packed_size, unpack_codes
from ..codec.encoded import Encoded
from ..codec.layout import make_layout
from ..codec.scale_rule import nv_multipliers, nv_tensor_scale
from ..codec.spec import QuantSpec, weight_spec
from ..policies import ScaleRule
from .checkpoints import files, load
from .files import CheckpointError, atomic_write
from .safetensors import read_metadata
from .safetensors import write as write_safetensors

KEY = "rf8lab_pack"
VERSION = 1
PACK_INDEX = "model.safetensors.index.json"  # a packed sharded checkpoint's index


def pack(src, dst, fmt="rf8", rounding=None, scale="auto", overflow=None, block=None,
         tensors: str | None = None, min_ndim: int = 2, sr_bits: int | None = None) -> dict:
    """Pack every floating tensor with at least `min_ndim` dimensions (and matching the globs in
    `tensors`, comma-separated) of the checkpoint `src` into `dst`. `fmt` is a format name, a spec string or
    a QuantSpec; the other arguments, where given, replace its fields, and a matrix gets per-channel scales
    where nothing names a scale (rf8lab.codec.spec.weight_spec). A sharded checkpoint packs shard by shard
    into the folder `dst`, with the same shard names and its own index. Returns a summary."""
    spec = weight_spec(fmt, rounding=rounding, scale=None if scale == "none" else scale, overflow=overflow,
                       block=block, sr_bits=sr_bits)
    shards = files(src)
    globs = [g.strip() for g in tensors.split(",")] if tensors else None
    if len(shards) == 1:
        packed, copied, before, after, _ = _pack_file(load(src), Path(dst), spec, globs, min_ndim)
    else:
        packed, copied, before, after = _pack_shards(src, shards, Path(dst), spec, globs, min_ndim)
    if not packed:
        raise CheckpointError(f"{src}: nothing to pack: no floating tensor with at least {min_ndim} dimensions"
                              + (f" matches {tensors}" if tensors else ""))
    return {"packed": packed, "copied": copied, "bytes_in": before, "bytes_out": after, "spec": spec.key,
            "files": len(shards)}


def _pack_file(arrays: dict, dst: Path, spec: QuantSpec, globs, min_ndim: int, write_empty: bool = False):
    """Pack one file's arrays into dst (nothing is written when none packs, unless write_empty);
    returns (packed, copied, bytes in, bytes out, names written)."""
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
    for name in out:
        after += out[name].nbytes
    if meta or write_empty:
        write_safetensors(dst, out, {KEY: json.dumps({"version": VERSION, "tensors": meta})})
    return len(meta), len(arrays) - len(meta), before, after, list(out)


def _pack_shards(src, shards: list[Path], dst: Path, spec: QuantSpec, globs, min_ndim: int):
    """Each shard packed into a folder beside dst, then the folder renamed to dst (a refused or failed run
    leaves the previous dst as it was); the index maps every written tensor to its shard."""
    if dst.exists() and not (dst.is_dir() and (dst / PACK_INDEX).is_file()):
        raise CheckpointError(f"{dst} exists and is not a packed folder (no {PACK_INDEX}): pack a sharded "
                              "checkpoint into a new folder")
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    totals = [0, 0, 0, 0]
    weight_map = {}
    try:
        tmp.mkdir(parents=True)
        for shard in shards:
            *counts, names = _pack_file(load(shard), tmp / shard.name, spec, globs, min_ndim, write_empty=True)
            totals = [t + c for t, c in zip(totals, counts)]
            weight_map.update({n: shard.name for n in names})
        if totals[0]:
            index = {"metadata": {"total_size": totals[3], "rf8lab_pack": spec.key}, "weight_map": weight_map}
            (tmp / PACK_INDEX).write_text(json.dumps(index, indent=1) + "\n")
            old = dst.with_name(dst.name + f".old{os.getpid()}")
            if dst.exists():
                dst.rename(old)
            tmp.rename(dst)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tuple(totals)


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
    """Floats back from a packed file (or a packed folder, shard by shard): each packed tensor decoded into
    its original dtype (or `dtype`). Writes them to dst if given (a file; a folder of shards with an index
    for a packed folder); returns the dict of arrays."""
    shards = files(src)
    if len(shards) == 1:
        out = _unpack_file(shards[0], dtype)
        if dst is not None:
            write_safetensors(dst, out)
        return out
    out, weight_map = {}, {}
    parts = {shard: _unpack_file(shard, dtype) for shard in shards}
    for shard, arrays in parts.items():
        out.update(arrays)
        weight_map.update({n: shard.name for n in arrays})
    if dst is not None:
        dst = Path(dst)
        dst.mkdir(parents=True, exist_ok=True)
        for shard, arrays in parts.items():
            write_safetensors(dst / shard.name, arrays)
        index = {"metadata": {"total_size": sum(a.nbytes for a in out.values())}, "weight_map": weight_map}
        atomic_write(dst / "model.safetensors.index.json", lambda p: p.write_text(json.dumps(index, indent=1)))
    return out


def _unpack_file(src, dtype: str | None) -> dict:
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
    return out
