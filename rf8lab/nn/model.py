"""One transformer, three uses: a causal GPT (character language model), a ViT (image classes) and
a BERT encoder (sentence embeddings). The layers are shared (layers.py); only the embedding in
front and the head behind differ, and whether LayerNorm comes before (GPT, ViT) or after (BERT)
each residual branch.

Parameters are a dict of named float arrays (shapes from `param_shapes`); linear weights are
(out, in) as in torch. `forward` returns the loss and a cache, `backward` turns the cache into a
dict of gradients with the same names.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import layers

KINDS = ("gpt", "vit", "bert")


@dataclass(frozen=True)
class Config:
    kind: str = "gpt"
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    d_ff: int = 0  # 0 means 4 * d_model
    block_size: int = 64  # positions: characters (GPT), tokens (BERT); set from the image for ViT
    vocab_size: int = 0  # GPT, BERT
    n_classes: int = 0  # ViT
    image_size: int = 8
    patch_size: int = 2
    channels: int = 1
    type_vocab_size: int = 2  # BERT's segment embeddings
    ln_eps: float = 1e-5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        for f in ("n_layer", "n_head", "d_model"):
            if not isinstance(getattr(self, f), int) or getattr(self, f) < 1:
                raise ValueError(f"{f} must be a positive integer, got {getattr(self, f)!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})")
        if self.kind in ("gpt", "bert") and self.vocab_size < 1:
            raise ValueError(f"a {self.kind} needs vocab_size >= 1, got {self.vocab_size}")
        if self.kind == "vit":
            if self.n_classes < 2:
                raise ValueError(f"a vit needs n_classes >= 2, got {self.n_classes}")
            if self.image_size % self.patch_size:
                raise ValueError(f"image_size ({self.image_size}) must be a multiple of patch_size ({self.patch_size})")
            object.__setattr__(self, "block_size", self.n_patches + 1)
        if self.d_ff == 0:
            object.__setattr__(self, "d_ff", 4 * self.d_model)

    @property
    def norm(self) -> str:
        return "post" if self.kind == "bert" else "pre"

    @property
    def causal(self) -> bool:
        return self.kind == "gpt"

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}; known: {sorted(names)}")
        return cls(**d)


def param_shapes(cfg: Config) -> dict[str, tuple[int, ...]]:
    D, F = cfg.d_model, cfg.d_ff
    s: dict[str, tuple[int, ...]] = {}
    if cfg.kind == "vit":
        s["patch.weight"] = (D, cfg.channels * cfg.patch_size ** 2)
        s["patch.bias"] = (D,)
        s["cls_token"] = (D,)
    else:
        s["tok_emb.weight"] = (cfg.vocab_size, D)
    s["pos_emb.weight"] = (cfg.block_size, D)
    if cfg.kind == "bert":
        s["type_emb.weight"] = (cfg.type_vocab_size, D)
        s["emb_ln.weight"], s["emb_ln.bias"] = (D,), (D,)
    for i in range(cfg.n_layer):
        b = f"blocks.{i}."
        for n in ("q", "k", "v", "o"):
            s[b + f"attn.{n}.weight"], s[b + f"attn.{n}.bias"] = (D, D), (D,)
        s[b + "mlp.fc.weight"], s[b + "mlp.fc.bias"] = (F, D), (F,)
        s[b + "mlp.proj.weight"], s[b + "mlp.proj.bias"] = (D, F), (D,)
        for n in ("ln1", "ln2"):
            s[b + f"{n}.weight"], s[b + f"{n}.bias"] = (D,), (D,)
    if cfg.kind != "bert":
        s["ln_f.weight"], s["ln_f.bias"] = (D,), (D,)
        out = cfg.vocab_size if cfg.kind == "gpt" else cfg.n_classes
        s["head.weight"], s["head.bias"] = (out, D), (out,)
    return s


def weight_names(params: dict, include: str = "2d") -> list[str]:
    """The parameters that count as weights: the 2-D ones (matrices and embedding tables; gains and
    biases are 1-D), or all of them with include="all". Works on numpy arrays and torch tensors."""
    if include not in ("2d", "all"):
        raise ValueError(f"include must be '2d' or 'all', got {include!r}")
    return [k for k, v in params.items() if include == "all" or v.ndim == 2]


def n_params(params: dict) -> int:
    return int(sum(v.size for v in params.values()))


def check_params(params: dict, cfg: Config) -> None:
    want = param_shapes(cfg)
    missing, extra = set(want) - set(params), set(params) - set(want)
    if missing or extra:
        raise ValueError(f"parameters do not match the config: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(extra)[:5]}")
    for k, shp in want.items():
        if params[k].shape != shp:
            raise ValueError(f"parameter {k} has shape {params[k].shape}, the config needs {shp}")


def patches(images: np.ndarray, cfg: Config) -> np.ndarray:
    """(B, C, H, W) or (B, H, W) images -> (B, n_patches, C * p * p), row-major patches."""
    x = images[:, None] if images.ndim == 3 else images
    B, C, H, W = x.shape
    if (C, H, W) != (cfg.channels, cfg.image_size, cfg.image_size):
        raise ValueError(f"images have (C, H, W) = {(C, H, W)}, the config needs "
                         f"{(cfg.channels, cfg.image_size, cfg.image_size)}")
    p = cfg.patch_size
    x = x.reshape(B, C, H // p, p, W // p, p).transpose(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)


def _blocks(p, cfg, x, keep):
    caches = []
    for i in range(cfg.n_layer):
        x, c = layers.block(p, f"blocks.{i}", x, cfg, keep)
        caches.append(c)
    return x, caches


def _blocks_backward(p, cfg, dx, caches, grads):
    for i in reversed(range(cfg.n_layer)):
        dx = layers.block_backward(p, f"blocks.{i}", dx, caches[i], cfg, grads)
    return dx


def forward(params: dict, cfg: Config, inputs: np.ndarray, targets: np.ndarray):
    """Loss of a GPT (inputs: (B, T) token ids, targets: (B, T) next tokens) or a ViT (inputs:
    images, targets: (B,) labels). Returns (loss, logits, cache for `backward`)."""
    p = params
    if cfg.kind == "gpt":
        B, T = inputs.shape
        if T > cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {cfg.block_size}")
        x = layers.embedding(p, "tok_emb", inputs) + p["pos_emb.weight"][:T]
    elif cfg.kind == "vit":
        xp = patches(inputs, cfg).astype(p["patch.weight"].dtype, copy=False)
        B = xp.shape[0]
        e, _ = layers.linear(p, "patch", xp)
        cls = np.broadcast_to(p["cls_token"], (B, 1, cfg.d_model))
        x = np.concatenate([cls, e], axis=1) + p["pos_emb.weight"]
        inputs = xp
    else:
        raise ValueError("forward computes a training loss for 'gpt' and 'vit'; use hidden_states() for 'bert'")
    keep = np.ones(x.shape[:2], np.bool_)
    x, caches = _blocks(p, cfg, x, keep)
    h_in = x if cfg.kind == "gpt" else x[:, 0]
    h, cf = layers.layernorm(p, "ln_f", h_in, cfg.ln_eps)
    logits, _ = layers.linear(p, "head", h)
    loss, dlogits = layers.cross_entropy(logits, targets)
    return loss, logits, (inputs, caches, cf, h, dlogits)


def backward(params: dict, cfg: Config, cache) -> dict:
    """Gradients of the loss of the `forward` that made `cache`, one array per parameter."""
    p = params
    inputs, caches, cf, h, dlogits = cache
    grads: dict = {}
    dh = layers.linear_backward(p, "head", dlogits, h, grads)
    dh = layers.layernorm_backward(p, "ln_f", dh, cf, grads)
    if cfg.kind == "gpt":
        dx = _blocks_backward(p, cfg, dh, caches, grads)
        layers.embedding_backward(p, "tok_emb", dx, inputs, grads)
        dpos = np.zeros_like(p["pos_emb.weight"])
        dpos[: dx.shape[1]] = dx.sum(axis=0)
        grads["pos_emb.weight"] = dpos
    else:
        B = dh.shape[0]
        dx = np.zeros((B, cfg.block_size, cfg.d_model), dh.dtype)
        dx[:, 0] = dh
        dx = _blocks_backward(p, cfg, dx, caches, grads)
        grads["pos_emb.weight"] = dx.sum(axis=0)
        grads["cls_token"] = dx[:, 0].sum(axis=0)
        layers.linear_backward(p, "patch", np.ascontiguousarray(dx[:, 1:]), inputs, grads)
    return {k: grads[k] for k in p}


def loss_and_grads(params: dict, cfg: Config, inputs, targets, shards: int = 1):
    """Mean loss over the batch and its gradients.

    shards > 1 splits the batch into that many equal parts, computed at once in threads (BLAS at
    one thread each, the Numba kernels release the GIL), and averages their losses and gradients:
    how a step uses several cores without BLAS's and Numba's thread pools fighting. The result
    depends on `shards` (the order of the sums) but not on the number of cores."""
    if shards == 1:
        loss, _, cache = forward(params, cfg, inputs, targets)
        return loss, backward(params, cfg, cache)
    B = len(inputs)
    if not isinstance(shards, int) or shards < 1 or B % shards:
        raise ValueError(f"shards must be a positive integer dividing the batch size {B}, got {shards!r}")
    n = B // shards

    def part(i):
        sl = slice(i * n, (i + 1) * n)
        loss, _, cache = forward(params, cfg, inputs[sl], targets[sl])
        return loss, backward(params, cfg, cache)

    with layers.one_blas_thread():
        results = list(_executor(shards).map(part, range(shards)))
    loss = sum(r[0] for r in results) / shards
    grads = results[0][1]
    for _, g in results[1:]:
        for k in grads:
            grads[k] += g[k]
    for k in grads:
        grads[k] /= shards
    return loss, grads


_EXECUTORS: dict = {}


def _executor(n):
    from concurrent.futures import ThreadPoolExecutor

    if n not in _EXECUTORS:
        _EXECUTORS[n] = ThreadPoolExecutor(n, thread_name_prefix="rf8lab-shard")
    return _EXECUTORS[n]




def logits(params: dict, cfg: Config, inputs) -> np.ndarray:
    """Forward pass only: (B, T, vocab) for a GPT, (B, classes) for a ViT."""
    dummy = np.zeros(inputs.shape[:2] if cfg.kind == "gpt" else inputs.shape[:1], np.int64)
    return forward(params, cfg, inputs, dummy)[1]


def hidden_states(params: dict, cfg: Config, ids: np.ndarray, attention_mask=None, type_ids=None) -> np.ndarray:
    """BERT encoder: last hidden states (B, T, d_model) for token ids (B, T); attention_mask (B, T)
    is 1 for real tokens and 0 for padding."""
    if cfg.kind != "bert":
        raise ValueError(f"hidden_states() runs a 'bert' config, not {cfg.kind!r}")
    p = params
    B, T = ids.shape
    if T > cfg.block_size:
        raise ValueError(f"sequence length {T} exceeds block_size {cfg.block_size}")
    keep = np.ones((B, T), np.bool_) if attention_mask is None else np.asarray(attention_mask).astype(np.bool_)
    tt = np.zeros_like(ids) if type_ids is None else type_ids
    x = layers.embedding(p, "tok_emb", ids) + p["pos_emb.weight"][:T] + layers.embedding(p, "type_emb", tt)
    x, _ = layers.layernorm(p, "emb_ln", x, cfg.ln_eps)
    x, _ = _blocks(p, cfg, x, keep)
    return x


POOLING = ("mean", "cls", "max", "mean_sqrt_len")  # sentence-transformers' pooling modes


def sentence_embedding(hidden: np.ndarray, attention_mask=None, pooling: str = "mean",
                       normalize: bool = True) -> np.ndarray:
    """Pool the hidden states (B, T, D) into one vector per sentence (B, D), as sentence-transformers'
    Pooling does: "mean" over real tokens, "cls" (the first token), "max" over real tokens, or
    "mean_sqrt_len" (the sum over real tokens / sqrt(their count)); then L2-normalize if `normalize`."""
    if pooling not in POOLING:
        raise ValueError(f"pooling {pooling!r} is not one of {POOLING}")
    m = np.ones(hidden.shape[:2]) if attention_mask is None else np.asarray(attention_mask)
    m = m[..., None].astype(hidden.dtype)
    if pooling == "cls":
        e = hidden[:, 0]
    elif pooling == "max":
        e = np.where(m > 0, hidden, np.finfo(hidden.dtype).min).max(axis=1)
    else:
        count = np.maximum(m.sum(axis=1), 1e-9)
        e = (hidden * m).sum(axis=1) / (count if pooling == "mean" else np.sqrt(count))
    if normalize:
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return e
