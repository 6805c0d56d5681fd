"""Scale groups: which elements share one scale (per tensor, per channel, per block).

Shared by every backend so that they agree on the shape and meaning of `scale_exp`:
- tensor: one scale, shape ();
- channel: one per index along `axis`, shape (shape[axis],);
- block: runs of `block` consecutive elements along `axis` (default the last); the scale array has
  the input's shape with that axis replaced by ceil(n / block). A final partial block is scaled
  from its own elements, exactly as if it were zero-padded (zeros never change an absmax);
  the padding is not stored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    granularity: str | None  # None (unscaled, X = 0), "tensor", "channel", "block"
    shape: tuple[int, ...]
    axis: int | None = None
    block: int | None = None

    @property
    def scale_shape(self) -> tuple[int, ...]:
        if self.granularity in (None, "tensor"):
            return ()
        if self.granularity == "channel":
            return (self.shape[self.axis],)
        s = list(self.shape)
        s[self.axis] = -(-s[self.axis] // self.block)
        return tuple(s)

    def group_ids(self) -> np.ndarray:
        """Flat index into the scale array for every element (int64, the input's shape)."""
        if self.granularity in (None, "tensor"):
            return np.zeros(self.shape, np.int64)
        if self.granularity == "channel":
            view = [1] * len(self.shape)
            view[self.axis] = -1
            return np.broadcast_to(np.arange(self.shape[self.axis]).reshape(view), self.shape)
        idx = list(np.indices(self.shape, sparse=True))
        idx[self.axis] = idx[self.axis] // self.block
        return np.ravel_multi_index(idx, self.scale_shape) if self.scale_shape else np.zeros((), np.int64)

    def group_of(self, t: np.ndarray) -> np.ndarray:
        """group_ids() at flat (C-order) element indices t only (int64), by the kernels' arithmetic on the
        (outer, n, inner) view (view3); equal to group_ids (tested)."""
        mode, (_, n, inner), block = self.view3()
        t = np.asarray(t, np.int64)
        if mode == 0:
            return np.zeros_like(t)
        if mode == 1:
            return (t // inner) % n
        return (((t // inner) // n) * -(-n // block) + ((t // inner) % n) // block) * inner + t % inner

    def view3(self) -> tuple[int, tuple[int, int, int], int]:
        """(mode, (outer, n, inner), block): the element -> group map of the kernels (Numba and Triton). The
        array is viewed as (outer, n, inner) around the scale axis; element (o, j, i)'s group is 0 (mode 0:
        one scale), j (1: channel) or (o * ceil(n / block) + j // block) * inner + i (2: block)."""
        if self.granularity in (None, "tensor"):
            return 0, (1, max(1, int(np.prod(self.shape, dtype=np.int64))), 1), 1
        a = self.axis
        outer = int(np.prod(self.shape[:a], dtype=np.int64))
        inner = int(np.prod(self.shape[a + 1:], dtype=np.int64))
        s3 = (outer, self.shape[a], inner)
        return (1, s3, 1) if self.granularity == "channel" else (2, s3, self.block)

    def expand(self, per_group: np.ndarray) -> np.ndarray:
        """Broadcast a per-group array (of `scale_shape`) to the element shape (a view where possible)."""
        per_group = np.asarray(per_group)
        if self.granularity in (None, "tensor"):
            return np.broadcast_to(per_group, self.shape)
        if self.granularity == "channel":
            view = [1] * len(self.shape)
            view[self.axis] = -1
            return np.broadcast_to(per_group.reshape(view), self.shape)
        full = np.repeat(per_group, self.block, axis=self.axis)
        return full.take(np.arange(self.shape[self.axis]), axis=self.axis)


def make_layout(shape, granularity, axis=None, block=None) -> Layout:
    """Validate the scale arguments against a shape and return a Layout."""
    shape = tuple(int(n) for n in shape)
    if granularity in (None, "tensor"):
        if axis is not None or block is not None:
            raise ValueError(f"scale={granularity!r} takes no axis or block; "
                             "use scale='channel' (axis) or scale='block' (axis, block)")
        return Layout(granularity, shape)
    if granularity not in ("channel", "block"):
        raise ValueError(f"scale must be None, 'tensor', 'channel' or 'block'; got {granularity!r}")
    if len(shape) == 0:
        raise ValueError(f"scale={granularity!r} needs an array with at least one dimension; got a 0-d array")
    if axis is None:
        axis = 0 if granularity == "channel" else -1
    if not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis={axis!r} is out of range for an array of {len(shape)} dimension(s)")
    axis = int(axis) % len(shape)
    if granularity == "channel":
        if block is not None:
            raise ValueError("scale='channel' takes no block size; use scale='block'")
        return Layout(granularity, shape, axis)
    if block is None:
        block = 32
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block must be a positive integer; got {block!r}")
    return Layout(granularity, shape, axis, int(block))
