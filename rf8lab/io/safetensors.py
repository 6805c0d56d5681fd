"""safetensors, read and written once for every part of rf8lab (checkpoints, packed files, training runs).

The format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte offsets;
"__metadata__" -> strings) and the raw little-endian data. It is parsed here rather than through the
safetensors package because that package's numpy API has no bfloat16 or float8 dtypes (ml_dtypes gives
them here) and reads whole tensors into memory; this reader checks every offset against the file and
returns read-only views of one memory map. The writer is atomic (rf8lab/io/files.py).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import ml_dtypes
import numpy as np

from .files import CheckpointError, atomic_write

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}

def header(path) -> tuple[dict, int]:
    """(the JSON header, the byte offset where the data starts) of a safetensors file."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes, no header length)")
        (hlen,) = struct.unpack("<Q", head)
        if hlen > size - 8:
            raise CheckpointError(f"{path}: header length {hlen} exceeds the file ({size} bytes): truncated or "
                                  "not a safetensors file")
        try:
            head = json.loads(f.read(hlen))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: safetensors header is not valid JSON ({e})") from None
    if not isinstance(head, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    return head, 8 + hlen


def read(path) -> dict[str, np.ndarray]:
    """Every tensor of the file, as read-only views of one memory map, in file order."""
    path = Path(path)
    head, base = header(path)
    size = path.stat().st_size
    entries = _entries(path, head, size - base)
    mm = np.memmap(path, np.uint8, "r") if size > base else np.zeros(0, np.uint8)
    return {name: np.asarray(mm[base + begin: base + end]).view(dt.newbyteorder("<")).reshape(shape)
            for name, dt, shape, begin, end in entries}


def _entries(path, head: dict, data_size: int) -> list[tuple[str, np.dtype, tuple, int, int]]:
    """(name, dtype, shape, begin, end) of each tensor, by the safetensors package's rules: a known dtype, a
    shape of non-negative integers, offsets that hold exactly shape x itemsize bytes, and tensors that tile
    the data from its first byte to its last, without gaps or overlaps."""
    out = []
    for name, info in head.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise CheckpointError(f"{path}: __metadata__ must map strings to strings")
            continue
        if not isinstance(info, dict):
            raise CheckpointError(f"{path}: tensor {name!r} is {type(info).__name__}, not an object with dtype, "
                                  "shape and data_offsets")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise CheckpointError(f"{path}: tensor {name!r} has dtype {dtype!r}; dtypes read: {', '.join(DTYPES)}")
        if not isinstance(shape, list) or not all(_natural(n) for n in shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {shape!r}; a shape is a list of integers >= 0")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_natural(v) for v in offsets):
            raise CheckpointError(f"{path}: tensor {name!r} has data_offsets {offsets!r}; they are two integers "
                                  ">= 0")
        dt, (begin, end) = np.dtype(DTYPES[dtype]), offsets
        if end - begin != dt.itemsize * math.prod(shape):
            raise CheckpointError(f"{path}: tensor {name!r} ({dtype}, shape {shape}) needs "
                                  f"{dt.itemsize * math.prod(shape)} bytes but its offsets {offsets} hold "
                                  f"{end - begin}: corrupt header")
        out.append((name, dt, tuple(shape), begin, end))
    pos = 0
    for name, _, _, begin, end in sorted(out, key=lambda e: (e[3], e[4])):
        if begin != pos:
            raise CheckpointError(f"{path}: tensor {name!r} starts at data byte {begin}, where the previous one "
                                  f"ends at {pos}: offsets that overlap or leave a gap")
        pos = end
    if pos != data_size:
        raise CheckpointError(f"{path}: the tensors end at data byte {pos} but the file holds {data_size}: "
                              "truncated or corrupt")
    return out


def _natural(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_metadata(path) -> dict:
    """The file's __metadata__ (string to string), {} if it has none."""
    return header(path)[0].get("__metadata__", {}) or {}


def write(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write named arrays (any dtype in the table above, bfloat16 and float8 included) as
    safetensors, atomically (atomic_write). The data is streamed from each array to the file: no bytes
    copy of a tensor is made (one that is not C-contiguous or not little-endian is converted alone)."""
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    header, arrays, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.asarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt not in names:
            raise CheckpointError(f"tensor {name!r} has dtype {a.dtype}, which safetensors cannot store here; "
                                  f"dtypes: {', '.join(str(np.dtype(t)) for t in DTYPES.values())}")
        header[name] = {"dtype": names[dt], "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        arrays.append(a)
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
            for a in arrays:
                if not a.flags.c_contiguous or a.dtype.byteorder == ">":
                    a = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False)
                if a.size:
                    f.write(memoryview(a.reshape(-1).view(np.uint8)))

    atomic_write(Path(path), write)
