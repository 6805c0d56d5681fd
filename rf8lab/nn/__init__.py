"""A small NumPy transformer with hand-written backward passes (GPT, ViT, BERT encoder), the
initializations it is studied with, AdamW, and a checkpointed training loop.

Parameters are a plain dict of named numpy arrays, so fitting, quantizing or regularizing them is
ordinary numpy.
"""
import numpy as np

from .data import CharCorpus, Digits
from .init import gg_init, initialize, kaiming_init, normal_init, xavier_init
from .model import (
    Config,
    backward,
    check_params,
    forward,
    hidden_states,
    logits,
    loss_and_grads,
    n_params,
    param_shapes,
    sentence_embedding,
)
from .optim import AdamW, clip_grad_norm, lr_at


def init_params(cfg: Config, method: str = "normal", seed=0, dtype="float32", **kw) -> dict:
    """A fresh parameter dict for cfg, initialized by `method` (see rf8lab.nn.init)."""
    params = {k: np.zeros(s, dtype) for k, s in param_shapes(cfg).items()}
    return initialize(params, method, rng=np.random.default_rng(seed), **kw)


__all__ = ["AdamW", "CharCorpus", "Config", "Digits", "backward", "check_params", "clip_grad_norm", "hidden_states",
           "forward", "gg_init", "init_params", "initialize", "kaiming_init", "logits", "loss_and_grads",
           "lr_at", "n_params", "normal_init", "param_shapes", "sentence_embedding", "xavier_init"]
