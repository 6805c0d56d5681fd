"""Files: safetensors read and written once (safetensors.py), checkpoints of every kind as named numpy
arrays (checkpoints.py), packed 8-bit checkpoints (pack.py), and the atomic write they share (files.py)."""
from .checkpoints import load, minilm_path, source_path
from .files import CheckpointError, atomic_write

__all__ = ["CheckpointError", "atomic_write", "load", "minilm_path", "source_path"]
