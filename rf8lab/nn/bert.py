"""Any Hugging Face BERT folder as a sentence encoder on rf8lab.nn's NumPy BERT: its config.json, its weights
(from any checkpoint rf8lab reads: model.safetensors, shards with their index, pytorch_model.bin, ...), its
tokenizer.json, and sentence-transformers' pooling and normalization where the folder has them.

    enc = SentenceEncoder("path/to/bert")      # or "minilm": all-MiniLM-L6-v2 from its package
    e = enc.embed(["A sentence.", "Another."])   # (2, hidden_size) float32

What the folder says, and what is used when it does not say:
- the encoder: config.json (model_type bert, hidden_act gelu, absolute positions);
- where the transformer lives: modules.json's Transformer module (its path, e.g. "0_Transformer"), else the folder;
- pooling: the Pooling module's config.json (modules.json; else 1_Pooling/config.json): mean, cls, max or
  mean_sqrt_len; without one, mean pooling (what sentence-transformers does for a plain BERT);
- normalization: an L2 Normalize module in modules.json;
- the longest input: sentence_bert_config.json's max_seq_length, else max_position_embeddings; its
  do_lower_case lowercases the text before the tokenizer, as sentence-transformers does.
A module sentence-transformers would apply and this encoder does not (Dense, LayerNorm, ...) is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io.checkpoints import MINILM, load, minilm_path
from ..io.files import CheckpointError
from .model import POOLING, Config, check_params, hidden_states, sentence_embedding

_BLOCK = {  # HF BertModel names (after encoder.layer.{i}.) -> rf8lab.nn names (after blocks.{i}.)
    "attention.self.query": "attn.q", "attention.self.key": "attn.k", "attention.self.value": "attn.v",
    "attention.output.dense": "attn.o", "attention.output.LayerNorm": "ln1", "intermediate.dense": "mlp.fc",
    "output.dense": "mlp.proj", "output.LayerNorm": "ln2"}
_TOP = {"embeddings.word_embeddings": "tok_emb", "embeddings.position_embeddings": "pos_emb",
        "embeddings.token_type_embeddings": "type_emb", "embeddings.LayerNorm": "emb_ln"}
# Parts of a BERT checkpoint that are not the encoder: the pooler and the task heads of BertForMaskedLM,
# BertForPreTraining, BertForSequenceClassification, BertForQuestionAnswering, ...; sentence embeddings skip them.
_HEADS = ("pooler.", "cls.", "classifier.", "qa_outputs.")
_TF_LAYERNORM = {"gamma": "weight", "beta": "bias"}  # bert-base-uncased's names, as transformers renames them
_MODULES = ("Transformer", "Pooling", "Normalize")  # the sentence-transformers modules computed here


def config_from_hf(cfg: dict) -> Config:
    """rf8lab.nn's Config for a Hugging Face BERT config.json; anything the NumPy BERT does not compute is
    refused, by name."""
    if cfg.get("model_type", "bert") != "bert":
        raise ValueError(f"config.json: model_type {cfg.get('model_type')!r} is not 'bert'")
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"config.json: hidden_act {cfg.get('hidden_act')!r}; only BERT's erf GELU ('gelu') is "
                         "implemented")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"config.json: position_embedding_type {cfg.get('position_embedding_type')!r}; only "
                         "'absolute' is implemented")
    try:
        return Config("bert", n_layer=cfg["num_hidden_layers"], n_head=cfg["num_attention_heads"],
                      d_model=cfg["hidden_size"], d_ff=cfg["intermediate_size"],
                      block_size=cfg["max_position_embeddings"], vocab_size=cfg["vocab_size"],
                      type_vocab_size=cfg.get("type_vocab_size", 2), ln_eps=cfg.get("layer_norm_eps", 1e-12))
    except KeyError as e:
        raise ValueError(f"config.json has no {e.args[0]!r}; a BERT config needs num_hidden_layers, "
                         "num_attention_heads, hidden_size, intermediate_size, max_position_embeddings, "
                         "vocab_size") from None


def rename(tensors: dict) -> dict:
    """HF BERT tensor names -> rf8lab.nn names. A "bert." prefix (BertForMaskedLM and the other task models)
    is removed, LayerNorm.gamma/beta (the original checkpoints) read as weight/bias; the pooler, the task heads
    and position_ids buffers are dropped; anything else is refused."""
    out = {}
    for name, a in tensors.items():
        short = name.removeprefix("bert.")
        if short.startswith(_HEADS) or short.endswith("position_ids"):
            continue
        stem, _, leaf = short.rpartition(".")
        if stem.endswith("LayerNorm"):  # the original BERT checkpoints name LayerNorm's gain and bias so
            leaf = _TF_LAYERNORM.get(leaf, leaf)
        if stem in _TOP:
            out[f"{_TOP[stem]}.{leaf}"] = a
            continue
        parts = stem.split(".")
        if parts[:2] != ["encoder", "layer"] or len(parts) < 4 or not parts[2].isdigit() \
                or ".".join(parts[3:]) not in _BLOCK:
            raise ValueError(f"unexpected tensor {name!r} for a BERT encoder")
        out[f"blocks.{parts[2]}.{_BLOCK['.'.join(parts[3:])]}.{leaf}"] = a
    return out


def _json(path: Path, what: str, kind=dict):
    """A JSON file's object (or list, kind=list), with one clear error for a missing or malformed file."""
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: {what}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, kind):
        raise ValueError(f"{path}: expected a JSON {kind.__name__}, got {type(d).__name__}")
    return d


def _modules(root: Path) -> dict[str, str]:
    """sentence-transformers' modules.json: module kind -> its folder. A module this encoder does not compute
    (Dense, LayerNorm, WordWeights, ...) would change the embeddings, so it is refused."""
    path = root / "modules.json"
    if not path.exists():
        return {}
    out = {}
    for m in _json(path, "", list):
        kind = m.get("type", "").rpartition(".")[2] if isinstance(m, dict) and isinstance(m.get("type"), str) \
            else None
        folder = m.get("path", "") if isinstance(m, dict) else None
        if kind is None or not isinstance(folder, str):
            raise ValueError(f"{path}: each module needs a \"type\" and a \"path\" (strings), got {m!r}")
        if kind not in _MODULES or kind in out:
            raise ValueError(f"{path}: module {m['type']!r}" + (" twice" if kind in out else "") + "; a sentence "
                             f"encoder here is {' -> '.join(_MODULES)} (the last two optional)")
        out[kind] = folder
    return out


_POOLING_KEYS = {m: f"pooling_mode_{m}_token" if m == "cls" else f"pooling_mode_{m}_tokens" for m in POOLING}


def _pooling(path: Path) -> str:
    """The pooling mode of a sentence-transformers Pooling config: exactly one of its pooling_mode_* flags."""
    d = _json(path, "the pooling configuration")
    modes = [m for m, key in _POOLING_KEYS.items() if d.get(key)]
    others = [k for k, v in d.items() if k.startswith("pooling_mode_") and v and k not in _POOLING_KEYS.values()]
    if others or len(modes) != 1:
        raise ValueError(f"{path}: pooling {', '.join(others + modes) or 'none'}; one of "
                         f"{', '.join(POOLING)} is implemented")
    return modes[0]


class SentenceEncoder:
    """Sentence embeddings from a Hugging Face BERT folder (or "minilm"), in NumPy.

    source      the folder (config.json, tokenizer.json, weights; sentence-transformers files optional)
    max_length  the longest input in tokens (default: the folder's max_seq_length, else max_position_embeddings)
    """

    def __init__(self, source=MINILM, max_length: int | None = None):
        from tokenizers import Tokenizer

        folder = minilm_path().parent if str(source) == MINILM else Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: a BERT model is a folder with config.json, tokenizer.json and its "
                                    "weights")
        mods = _modules(folder)
        self.root = folder / mods.get("Transformer", "")
        hf = _json(self.root / "config.json", "a BERT folder needs its config.json")
        self.cfg = config_from_hf(hf)
        pool_config = folder / mods.get("Pooling", "1_Pooling") / "config.json"
        self.pooling = _pooling(pool_config) if "Pooling" in mods or pool_config.exists() else "mean"
        self.normalize = "Normalize" in mods
        try:
            self.params = {k: np.asarray(v, np.float32) for k, v in rename(load(self.root)).items()}
        except CheckpointError as e:
            raise ValueError(f"{self.root}: the weights: {e}") from None
        check_params(self.params, self.cfg)
        st_path = self.root / "sentence_bert_config.json"
        st = _json(st_path, "") if st_path.exists() else {}
        self.lower_case = bool(st.get("do_lower_case", False))  # sentence-transformers lowercases the text first
        limit = max_length if max_length is not None else st.get("max_seq_length") or self.cfg.block_size
        if not isinstance(limit, int) or not 2 <= limit <= self.cfg.block_size:
            raise ValueError(f"max_length {limit!r} must be an integer from 2 to max_position_embeddings "
                             f"({self.cfg.block_size})")
        self.max_length = limit
        tok = self.root / "tokenizer.json"
        if not tok.exists():
            raise FileNotFoundError(f"{tok} is missing: the `tokenizers` library reads the model's tokenizer.json")
        try:
            self.tokenizer = Tokenizer.from_file(str(tok))
        except Exception as e:  # tokenizers raises a bare Exception for a malformed file
            raise ValueError(f"{tok}: not a tokenizers file ({e})") from None
        self.tokenizer.enable_truncation(self.max_length)
        pad = hf.get("pad_token_id", 0)
        if not isinstance(pad, int) or not 0 <= pad < self.cfg.vocab_size:
            raise ValueError(f"{self.root / 'config.json'}: pad_token_id {pad!r} is not a token id")
        self.tokenizer.enable_padding(pad_id=pad, pad_token=self.tokenizer.id_to_token(pad) or "[PAD]")

    def tokenize(self, sentences: list[str]):
        """(ids, attention_mask, type_ids), each (n, longest) int64, padded on the right."""
        enc = self.tokenizer.encode_batch([t.lower() for t in sentences] if self.lower_case else list(sentences))
        ids, mask, types = (np.array([getattr(e, f) for e in enc], np.int64) for f in
                            ("ids", "attention_mask", "type_ids"))
        if ids.max(initial=0) >= self.cfg.vocab_size:
            raise ValueError(f"the tokenizer gives id {ids.max()}, beyond the model's vocab_size "
                             f"{self.cfg.vocab_size}: tokenizer.json is not this model's")
        return ids, mask, types

    def embed(self, sentences: list[str], batch_size: int = 64, params: dict | None = None) -> np.ndarray:
        """(n, hidden_size) float32 sentence embeddings, pooled (and normalized) as the folder says; `params`
        replaces the weights (e.g. quantized ones) without reloading."""
        p = self.params if params is None else params
        out = []
        for i in range(0, len(sentences), batch_size):
            ids, mask, types = self.tokenize(sentences[i:i + batch_size])
            h = hidden_states(p, self.cfg, ids, mask, types)
            out.append(sentence_embedding(h, mask, self.pooling, self.normalize))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.cfg.d_model), np.float32)

    def __repr__(self) -> str:
        c = self.cfg
        return (f"SentenceEncoder({str(self.root)!r}: {c.n_layer} layers, d={c.d_model}, pooling={self.pooling}"
                f"{', normalized' if self.normalize else ''}, max_length={self.max_length})")
