"""The same transformer written with torch's own layers and autograd: the independent check of the
hand-written backward passes (tests) and the speed baseline (benchmarks/bench_train.py).
Needs torch; rf8lab.nn itself does not.
"""
from __future__ import annotations

import numpy as np

from ..optional import require
from .model import Config

torch = require("torch", "rf8lab.nn.torch_ref")
F = torch.nn.functional


def to_torch(params: dict, requires_grad=True) -> dict:
    return {k: torch.tensor(v, requires_grad=requires_grad) for k, v in params.items()}


def _attention(p, name, x, n_head, causal, keep):
    B, T, D = x.shape

    def heads(t):
        return t.view(B, T, n_head, D // n_head).transpose(1, 2)

    q, k, v = (heads(F.linear(x, p[f"{name}.{n}.weight"], p[f"{name}.{n}.bias"])) for n in "qkv")
    mask = None if keep is None else keep[:, None, None, :]
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    return F.linear(a.transpose(1, 2).reshape(B, T, D), p[f"{name}.o.weight"], p[f"{name}.o.bias"])


def _block(p, name, x, cfg: Config, keep):
    D = cfg.d_model

    def ln(n, t):
        return F.layer_norm(t, (D,), p[f"{name}.{n}.weight"], p[f"{name}.{n}.bias"], cfg.ln_eps)

    def mlp(t):
        h = F.gelu(F.linear(t, p[f"{name}.mlp.fc.weight"], p[f"{name}.mlp.fc.bias"]))
        return F.linear(h, p[f"{name}.mlp.proj.weight"], p[f"{name}.mlp.proj.bias"])

    if cfg.norm == "pre":
        x = x + _attention(p, name + ".attn", ln("ln1", x), cfg.n_head, cfg.causal, keep)
        return x + mlp(ln("ln2", x))
    x = ln("ln1", x + _attention(p, name + ".attn", x, cfg.n_head, cfg.causal, keep))
    return ln("ln2", x + mlp(x))


def forward(p: dict, cfg: Config, inputs, targets=None, attention_mask=None):
    """Loss (GPT, ViT; logits if targets is None) or last hidden states (BERT), from torch tensors."""
    D = cfg.d_model
    keep = None if attention_mask is None else torch.as_tensor(attention_mask).bool()
    if cfg.kind == "vit":
        x = inputs[:, None] if inputs.dim() == 3 else inputs
        B, C, H, W = x.shape
        s = cfg.patch_size
        x = x.reshape(B, C, H // s, s, W // s, s).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * s * s)
        x = F.linear(x.to(p["patch.weight"].dtype), p["patch.weight"], p["patch.bias"])
        x = torch.cat([p["cls_token"].expand(B, 1, D), x], dim=1) + p["pos_emb.weight"]
    else:
        T = inputs.shape[1]
        x = F.embedding(inputs, p["tok_emb.weight"]) + p["pos_emb.weight"][:T]
        if cfg.kind == "bert":
            x = x + p["type_emb.weight"][0]
            x = F.layer_norm(x, (D,), p["emb_ln.weight"], p["emb_ln.bias"], cfg.ln_eps)
    for i in range(cfg.n_layer):
        x = _block(p, f"blocks.{i}", x, cfg, keep)
    if cfg.kind == "bert":
        return x
    h = x if cfg.kind == "gpt" else x[:, 0]
    h = F.layer_norm(h, (D,), p["ln_f.weight"], p["ln_f.bias"], cfg.ln_eps)
    logits = F.linear(h, p["head.weight"], p["head.bias"])
    if targets is None:
        return logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def loss_and_grads(params: dict, cfg: Config, inputs: np.ndarray, targets: np.ndarray):
    """Loss and gradients by torch autograd for numpy params and batch (same names as rf8lab.nn)."""
    p = to_torch(params)
    loss = forward(p, cfg, torch.as_tensor(inputs), torch.as_tensor(targets))
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in p.items()}
