"""A model's weights in an 8-bit format, and their size after entropy coding.

Only 2-D weights (matrices, embeddings) are converted and coded; gains and biases stay float32, as they
usually do. Used by the pipeline and by the format study (which trains nothing).
"""
from __future__ import annotations

import numpy as np

from ..codec import api
from ..codec.spec import QuantSpec
from ..entropy import bits_per_param
from ..nn import model

STEP = 2.0 ** -10  # the uniform grid on which float weights are entropy coded (BackSlash's q = round(2^s w))


def convert(params: dict, spec: QuantSpec | None) -> dict:
    """A copy of params with every 2-D weight rounded onto an 8-bit format (None: unchanged)."""
    out = dict(params)
    if spec is None:
        return out
    for k in model.weight_names(params):
        out[k] = api.quantize(params[k], spec_for(spec, params[k])).astype(params[k].dtype)
    return out


def spec_for(spec: QuantSpec, w: np.ndarray) -> QuantSpec:
    """Block scales here take whole rows into blocks: a row that is not a multiple of the block is one block.
    MX formats keep their fixed block (a row shorter than it is one partial block, the same thing)."""
    block = spec.block or spec.format.default_block
    n = w.shape[-1 if spec.axis is None else spec.axis]
    if spec.scale == "block" and n % block and spec.format.block_format is None:
        return spec.replace(block=n)
    return spec


def sizes(params: dict, step: float = STEP) -> dict:
    """Bits per weight of the 2-D weights on the grid `step`: fixed, exp-Golomb, Huffman, entropy;
    plus the fraction that rounds to zero there."""
    w = np.concatenate([params[k].ravel() for k in model.weight_names(params)])
    b = bits_per_param(w, step=step)
    b["zero_fraction"] = float(np.mean(np.abs(w) < step / 2))
    return b


def code_sizes(params: dict, spec: QuantSpec) -> dict:
    """Bits per weight of the format's own codes (its code width fixed) after entropy coding them."""
    codes = np.concatenate([api.encode(params[k], spec_for(spec, params[k])).codes.ravel()
                            for k in model.weight_names(params)])
    return bits_per_param(codes, fmt=spec.fmt)
