"""The end-to-end pipeline to 8 bits: train (baseline init, GG init, + BackSlash at several lambda,
+ DeepShape and fine-tuning), convert every model's weights to each 8-bit format, evaluate, and
measure sizes after entropy coding.

`run(kind, seed, ...)` does it for one model kind and one seed and returns plain dicts;
`rf8lab pipeline` prints one run, `analysis/pipeline_study.py` repeats it over seeds and writes the
report. Only 2-D weights (matrices, embeddings) are converted and coded; gains and biases (about 2%
of the parameters here) stay float32, as they usually do.
"""
from __future__ import annotations

import numpy as np

from ..codec import api
from ..coding import bits_per_param
from . import model as M
from .backslash import BackSlash
from .deepshape import deepshape, prune, sparsity
from .train import TrainConfig, evaluate, load_data, train

# name: rf8lab.quantize arguments (None: keep float32)
FORMATS = {
    "float32": None,
    "rf8 log, unscaled": dict(fmt="rf8", rounding="log", scale=None),
    "rf8 nearest, per tensor": dict(fmt="rf8", scale="tensor"),
    "e4m3, per tensor": dict(fmt="e4m3", scale="tensor"),
    "e5m2, per tensor": dict(fmt="e5m2", scale="tensor"),
    "int8, per channel": dict(fmt="int8", scale="channel"),
    "mxfp8 (e4m3, block 32)": dict(fmt="mxfp8", scale="block"),
}
STEP = 2.0 ** -10  # the uniform grid on which float weights are entropy coded (BackSlash's q = round(2^s w))


def convert(params: dict, spec: dict | None) -> dict:
    """A copy of params with every 2-D weight rounded onto an 8-bit format (spec: quantize kwargs)."""
    out = dict(params)
    if spec is None:
        return out
    for k in M.weight_names(params):
        out[k] = api.quantize(params[k], **_fit(spec, params[k])).astype(params[k].dtype)
    return out


def _fit(spec: dict, w: np.ndarray) -> dict:
    """Block scales need rows that are a multiple of 32; otherwise one block per row."""
    if spec.get("scale") == "block" and w.shape[-1] % 32:
        return {**spec, "block": w.shape[-1]}
    return spec


def sizes(params: dict, step: float = STEP) -> dict:
    """Bits per weight of the 2-D weights on the grid `step`: fixed, exp-Golomb, Huffman, entropy;
    plus the fraction that rounds to zero there."""
    w = np.concatenate([params[k].ravel() for k in M.weight_names(params)])
    b = bits_per_param(w, step=step)
    b["zero_fraction"] = float(np.mean(np.abs(w) < step / 2))
    return b


def code_sizes(params: dict, spec: dict) -> dict:
    """Bits per weight of the format's own codes (8 fixed) after entropy coding them."""
    codes = np.concatenate([api.encode(params[k], **_fit(spec, params[k])).codes.ravel()
                            for k in M.weight_names(params)])
    return bits_per_param(codes, fmt=spec["fmt"])


def setup(kind: str, steps: int | None = None, text: str | None = None):
    data = load_data(kind, text)
    if kind == "gpt":
        cfg = M.Config("gpt", n_layer=2, n_head=4, d_model=64, block_size=64, vocab_size=data.vocab_size)
        tc = dict(steps=steps or 800, batch_size=32, lr=3e-3, warmup=40, eval_every=100, eval_windows=128)
    else:
        cfg = M.Config("vit", n_layer=2, n_head=4, d_model=64, n_classes=10, patch_size=2)
        tc = dict(steps=steps or 600, batch_size=64, lr=3e-3, warmup=30, eval_every=100)
    return cfg, tc, data


def _metric(ev: dict) -> dict:
    return {k: ev[k] for k in ("val_loss", "val_acc") if k in ev}


def run(kind: str, seed: int = 0, lams=(1.0, 3.0, 10.0), deepshape_lam=None, backslash_frac: float = 0.6,
        finetune_frac: float = 0.25, gg_shape: float = 1.0, prune_fracs=(0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9),
        steps: int | None = None, text: str | None = None, progress: bool = False) -> dict:
    """Every stage for one model kind and seed. BackSlash (loss form, nu re-estimated every step,
    pooled) runs for the first `backslash_frac` of the steps, ordinary training for the rest.
    DeepShape is applied to the model trained with lambda = deepshape_lam (default: the middle
    lambda; stages d0, d) and to the GG-init model trained without BackSlash (e0, e), then each is
    fine-tuned for `finetune_frac` of the steps at a third of the learning rate."""
    cfg, tcd, data = setup(kind, steps, text)
    base = dict(tcd, seed=seed)
    models, nu_hist = {}, {}
    models["a: baseline init (normal 0.02)"] = train(cfg, TrainConfig(**base, init="normal"), data,
                                                     progress=progress).params
    gg_init = dict(init="gg", init_kw={"shape": gg_shape, "xi": 2.0, "fan": "in"})
    models[f"b: GG init (nu={gg_shape:g})"] = train(cfg, TrainConfig(**base, **gg_init), data, progress=progress).params
    until = int(backslash_frac * base["steps"])
    for lam in lams:
        bs = BackSlash(lam=lam, form="loss", until=until)
        r = train(cfg, TrainConfig(**base, **gg_init), data, progress=progress, on_grads=bs.on_grads)
        name = f"c: GG + BackSlash lambda={lam:g}"
        models[name] = r.params
        nu_hist[name] = [(h["step"], h["nu"]) for h in bs.history]
    lam_ds = lams[len(lams) // 2] if deepshape_lam is None else deepshape_lam
    ft = TrainConfig(**{**base, "steps": max(1, int(finetune_frac * base["steps"])), "warmup": 1, "lr": base["lr"] / 3})
    ds_info = {}
    for tag, src_name in (("d", f"c: GG + BackSlash lambda={lam_ds:g}"), ("e", f"b: GG init (nu={gg_shape:g})")):
        shaped, ds_info[tag] = deepshape(models[src_name], step=2.0 ** -13, core_frac=1e-4)
        models[f"{tag}0: {src_name[3:]} + DeepShape, before fine-tuning"] = shaped
        models[f"{tag}: {src_name[3:]} + DeepShape + fine-tune"] = train(cfg, ft, data, progress=progress,
                                                                          start=shaped).params
    ev_tc = TrainConfig(**base)
    results = []
    for stage, params in models.items():
        row = {"stage": stage, "sizes": sizes(params), "sparsity": sparsity(params), "formats": {}}
        for fname, spec in FORMATS.items():
            q = convert(params, spec)
            row["formats"][fname] = _metric(evaluate(q, cfg, data, ev_tc))
            if spec is not None and spec["fmt"] == "rf8":
                row["formats"][fname]["code_bits"] = code_sizes(params, spec)
        results.append(row)
    pruning = {}
    for stage in (next(k for k in models if k.startswith("a:")), next(k for k in models if k.startswith("b:")),
                  f"c: GG + BackSlash lambda={lams[0]:g}", f"c: GG + BackSlash lambda={lams[-1]:g}"):
        pruning[stage] = [{"fraction": f, **_metric(evaluate(prune(models[stage], f), cfg, data, ev_tc))}
                          for f in prune_fracs]
    return {"kind": kind, "seed": seed, "model": cfg.to_dict(), "train": base, "lams": list(lams),
            "deepshape_lam": lam_ds, "deepshape": ds_info, "results": results, "pruning": pruning, "nu": nu_hist}
