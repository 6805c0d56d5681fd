"""safetensors, read and written once for every part of rf8lab (checkpoints, packed files, training runs).

The format is an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte offsets;
"__metadata__" -> strings) and the raw little-endian data. It is parsed here rather than through the
safetensors package because that package's numpy API has no bfloat16 or float8 dtypes (ml_dtypes gives
them here) and reads whole tensors into memory; this reader checks every offset against the file and
returns read-only views of one memory map. The writer is atomic (rf8lab/io/files.py).
"""
from __future__ import annotations

import json
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
    out = {}
    mm = np.memmap(path, np.uint8, "r") if size > base else np.zeros(0, np.uint8)
    for name, info in head.items():
        if name == "__metadata__":
            continue
        try:
            dt = np.dtype(DTYPES[info["dtype"]])
            begin, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(n) for n in info["shape"])
        except KeyError as e:
            raise CheckpointError(f"{path}: tensor {name!r} has an unsupported or missing field {e}; "
                                  f"dtypes read: {', '.join(DTYPES)}") from None
        except (TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r} is not described by dtype, shape and data_offsets "
                                  f"(got {str(info)[:80]})") from None
        if begin < 0 or end < begin or min(shape, default=0) < 0:
            raise CheckpointError(f"{path}: tensor {name!r} has offsets {[begin, end]} and shape {list(shape)}: "
                                  "corrupt header")
        if base + end > size or end - begin != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise CheckpointError(f"{path}: tensor {name!r} ends at byte {base + end} but the file has {size}: "
                                  "truncated or corrupt")
        out[name] = np.asarray(mm[base + begin: base + end]).view(dt.newbyteorder("<")).reshape(shape)
    return out


def read_metadata(path) -> dict:
    """The file's __metadata__ (string to string), {} if it has none."""
    return header(path)[0].get("__metadata__", {}) or {}


def write(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write named arrays (any dtype in the table above, bfloat16 and float8 included) as
    safetensors, atomically (atomic_write)."""
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.asarray(a)
        a = a if a.flags.c_contiguous else a.copy(order="C")  # (ascontiguousarray would make 0-d 1-d)
        if a.dtype not in names:
            raise CheckpointError(f"tensor {name!r} has dtype {a.dtype}, which safetensors cannot store here; "
                                  f"dtypes: {', '.join(str(np.dtype(t)) for t in DTYPES.values())}")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
            for b in blobs:
                f.write(b)

    atomic_write(Path(path), write)
