"""What a checkpoint tensor's name says: its type (attention Q, MLP in, ...) and its layer, across the
naming schemes of BERT, GPT-2, Llama and ViT checkpoints."""
from __future__ import annotations

import re

TYPES = ["embeddings", "attention Q", "attention K", "attention V", "attention O", "MLP in", "MLP out",
         "norm", "bias", "other"]


def tensor_type(name: str) -> str:
    n = name.lower()
    if n.endswith("bias"):
        return "bias"
    if "norm" in n or re.search(r"(^|\.)ln_?\w*\.", n):
        return "norm"
    if "embed" in n or n.startswith("wte") or n.startswith("wpe"):
        return "embeddings"
    for key, t in (("query", "attention Q"), ("q_proj", "attention Q"), ("key", "attention K"),
                   ("k_proj", "attention K"), ("value", "attention V"), ("v_proj", "attention V"),
                   ("attention.output", "attention O"), ("o_proj", "attention O"), ("out_proj", "attention O"),
                   ("intermediate", "MLP in"), ("fc1", "MLP in"), ("up_proj", "MLP in"), ("c_fc", "MLP in"),
                   ("output.dense", "MLP out"), ("fc2", "MLP out"), ("down_proj", "MLP out"),
                   ("mlp.c_proj", "MLP out")):
        if key in n:
            return t
    return "other"


def layer_index(name: str):
    m = re.search(r"(?:layer|layers|h|blocks|block)\.(\d+)\.", name)
    return int(m.group(1)) if m else None
