"""The end-to-end pipeline to 8 bits: train (baseline init, GG init, + BackSlash at several lambda,
+ DeepShape and fine-tuning), convert every model's weights to each 8-bit format, evaluate, and
measure sizes after entropy coding.

`run(kind, seed, ...)` does it for one model kind and one seed and returns plain dicts;
`rf8lab pipeline` prints one run, `analysis/pipeline_study.py` repeats it over seeds and writes the
report. Only 2-D weights (matrices, embeddings) are converted and coded; gains and biases (about 2%
of the parameters here) stay float32, as they usually do.
"""
from __future__ import annotations

from ..codec.spec import QuantSpec
from ..nn import model
from ..nn.train import TrainConfig, evaluate, load_data, train
from .backslash import BackSlash
from .convert import STEP, code_sizes, convert, sizes
from .deepshape import deepshape, prune, sparsity

# every model is evaluated in float32 (FLOAT32) and converted to each of these
SPECS = tuple(QuantSpec.parse(s) for s in ("rf8:log:none", "rf8:nearest:tensor", "e4m3:nearest:tensor",
                                           "e5m2:nearest:tensor", "int8:nearest:channel", "mxfp8:nearest:block"))
FLOAT32 = "float32"
DEEPSHAPE = {"step": 2.0 ** -13, "core_frac": 1e-4, "a": 0.8, "b": 0.6}  # target GG(mu, a nu, b alpha)
BACKSLASH_EPS = 1e-3  # BackSlash's soft clip
FINETUNE_LR = 1 / 3  # fine-tuning after DeepShape runs at this fraction of the learning rate


def setup(kind: str, steps: int | None = None, text: str | None = None):
    data = load_data(kind, text)
    if kind == "gpt":
        cfg = model.Config("gpt", n_layer=2, n_head=4, d_model=64, block_size=64, vocab_size=data.vocab_size)
        tc = dict(steps=steps or 800, batch_size=32, lr=3e-3, warmup=40, eval_every=100, eval_windows=128)
    else:
        cfg = model.Config("vit", n_layer=2, n_head=4, d_model=64, n_classes=10, patch_size=2)
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
    stages, models, nu = [], {}, []

    def add(params, tag, label, lam=None, source=None, finetuned=False):
        stages.append({"stage": f"{tag}: {label}", "tag": tag, "lam": lam, "source": source,
                       "deepshape": source is not None, "finetuned": finetuned})
        models[len(stages) - 1] = params
        return len(stages) - 1

    a = add(train(cfg, TrainConfig(**base, init="normal"), data, progress=progress).params,
            "a", "baseline init (normal 0.02)")
    gg_init = dict(init="gg", init_kw={"shape": gg_shape, "xi": 2.0, "fan": "in"})
    b = add(train(cfg, TrainConfig(**base, **gg_init), data, progress=progress).params,
            "b", f"GG init (nu={gg_shape:g})")
    until = int(backslash_frac * base["steps"])
    by_lam = {}
    for lam in lams:
        bs = BackSlash(lam=lam, form="loss", until=until, eps=BACKSLASH_EPS)
        r = train(cfg, TrainConfig(**base, **gg_init), data, progress=progress, on_grads=bs.on_grads)
        by_lam[lam] = add(r.params, "c", f"GG + BackSlash lambda={lam:g}", lam=lam)
        nu.append({"lam": lam, "history": [(h["step"], h["nu"]) for h in bs.history]})
    lam_ds = lams[len(lams) // 2] if deepshape_lam is None else deepshape_lam
    ft = TrainConfig(**{**base, "steps": max(1, int(finetune_frac * base["steps"])), "warmup": 1,
                        "lr": base["lr"] * FINETUNE_LR})
    ds_info = {}
    for tag, src in (("d", by_lam[lam_ds]), ("e", b)):
        shaped, ds_info[tag] = deepshape(models[src], **DEEPSHAPE)
        name, lam = stages[src]["stage"][3:], stages[src]["lam"]
        add(shaped, f"{tag}0", f"{name} + DeepShape, before fine-tuning", lam, stages[src]["tag"])
        add(train(cfg, ft, data, progress=progress, start=shaped).params, tag, f"{name} + DeepShape + fine-tune", lam,
            stages[src]["tag"], finetuned=True)
    ev_tc = TrainConfig(**base)
    results = []
    for i, stage in enumerate(stages):
        params = models[i]
        row = {**stage, "sizes": sizes(params), "sparsity": sparsity(params),
               "formats": {FLOAT32: _metric(evaluate(params, cfg, data, ev_tc))}}
        for spec in SPECS:
            row["formats"][spec.key] = _metric(evaluate(convert(params, spec), cfg, data, ev_tc))
            if spec.fmt == "rf8":
                row["formats"][spec.key]["code_bits"] = code_sizes(params, spec)
        results.append(row)
    pruning = [{**stages[i], "curve": [{"fraction": f, **_metric(evaluate(prune(models[i], f), cfg, data, ev_tc))}
                                       for f in prune_fracs]}
               for i in dict.fromkeys((a, b, by_lam[lams[0]], by_lam[lams[-1]]))]  # in order, once each
    return {"kind": kind, "seed": seed, "model": cfg.to_dict(), "train": base, "lams": list(lams),
            "deepshape_lam": lam_ds, "deepshape": ds_info,
            "settings": settings(backslash_frac, finetune_frac, gg_shape),
            "results": results, "pruning": pruning, "nu": nu}


def settings(backslash_frac, finetune_frac, gg_shape) -> dict:
    """What a page says about how the stages were made, as numbers (rendered from the JSON)."""
    return {"backslash_frac": backslash_frac, "finetune_frac": finetune_frac, "finetune_lr_factor": FINETUNE_LR,
            "gg_shape": gg_shape, "gg_xi": 2.0, "deepshape": DEEPSHAPE, "backslash_eps": BACKSLASH_EPS,
            "code_step": STEP, "specs": [s.key for s in SPECS]}
