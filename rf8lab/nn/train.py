"""Training runs people can trust: deterministic from a seed, checkpointed atomically, resumable
bit for bit, and stopped with a clear error (keeping the last good checkpoint) if the loss stops
being finite.

A checkpoint is one safetensors file: the parameters under their own names, AdamW's moments under
`adam.m.*` / `adam.v.*`, and in its metadata the model and training configs, the step, the batch
generator's state and the history. It is written to a temporary file and renamed over the old one,
so a crash leaves either the old or the new checkpoint, never half of one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import safetensors
from ..io.files import CheckpointError, atomic_write
from . import model
from .data import CharCorpus, Digits
from .init import initialize
from .optim import AdamW, clip_grad_norm, lr_at

CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"


class TrainingError(RuntimeError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 500
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 50
    checkpoint_every: int = 0  # 0: at every evaluation
    eval_windows: int = 256  # GPT: held-out windows of block_size characters
    seed: int = 0
    init: str = "normal"
    init_kw: dict = field(default_factory=dict)
    dtype: str = "float32"
    shards: int = 1  # split each batch into this many parts computed in parallel threads (see loss_and_grads)

    def __post_init__(self):
        for f in ("steps", "batch_size", "eval_every"):
            if not isinstance(getattr(self, f), int) or getattr(self, f) < 1:
                raise ValueError(f"{f} must be a positive integer, got {getattr(self, f)!r}")
        if not isinstance(self.shards, int) or self.shards < 1 or self.batch_size % self.shards:
            raise ValueError(f"shards must be a positive integer dividing batch_size {self.batch_size}, "
                             f"got {self.shards!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    params: dict
    model_config: model.Config
    train_config: TrainConfig
    history: list  # one dict per evaluation: step, lr, train_loss, val_loss, (val_acc), tokens_per_s
    data: dict  # source and sha256 of the data

    @property
    def final(self) -> dict:
        return self.history[-1]


# ---- checkpoints -------------------------------------------------------------------------------
def save_checkpoint(path, params: dict, meta: dict, extra: dict | None = None) -> None:
    """Parameters (and optimizer arrays) as safetensors, with the run's metadata as JSON, atomically."""
    safetensors.write(path, {**params, **(extra or {})}, {"rf8lab": json.dumps(meta)})


def load_checkpoint(path) -> tuple[dict, model.Config, dict, dict]:
    """(params, model config, metadata, optimizer arrays) from a checkpoint or model file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        meta = json.loads(safetensors.read_metadata(path)["rf8lab"])
        arrays = safetensors.read(path)
    except (CheckpointError, KeyError, json.JSONDecodeError) as e:
        raise TrainingError(f"{path} is not a readable rf8lab checkpoint ({type(e).__name__}: {e})") from None
    cfg = model.Config.from_dict(meta["model_config"])
    missing = [k for k in model.param_shapes(cfg) if k not in arrays]
    if missing:
        raise TrainingError(f"{path} lacks the parameters {', '.join(missing[:3])}: not a checkpoint of this model")
    # copies: training updates them in place, and the file under the memory map is replaced by the next save
    params = {k: np.array(arrays[k]) for k in model.param_shapes(cfg)}
    model.check_params(params, cfg)
    opt = {k: np.array(v) for k, v in arrays.items() if k.startswith("adam.")}
    return params, cfg, meta, opt


def _versions() -> dict:
    import numba
    import numpy

    from .. import __version__

    return {"rf8lab": __version__, "numpy": numpy.__version__, "numba": numba.__version__}


# ---- evaluation --------------------------------------------------------------------------------
def evaluate(params: dict, cfg: model.Config, data, tc: TrainConfig) -> dict:
    """Held-out loss (and accuracy for a ViT), averaged over the fixed evaluation set."""
    tot, n, correct = 0.0, 0, 0
    if cfg.kind == "gpt":
        batches = data.val_batches(tc.batch_size, cfg.block_size, tc.eval_windows)
    else:
        batches = data.val_batches(256)
    for x, y in batches:
        loss, logits, _ = model.forward(params, cfg, x, y)
        k = y.size
        tot += loss * k
        n += k
        if cfg.kind == "vit":
            correct += int((logits.argmax(-1) == y).sum())
    out = {"val_loss": tot / n}
    if cfg.kind == "vit":
        out["val_acc"] = correct / n
    return out


# ---- the loop ----------------------------------------------------------------------------------
def train(cfg: model.Config, tc: TrainConfig, data, out=None, resume: bool = False, progress: bool = True,
          on_grads=None, on_step=None, start: dict | None = None) -> TrainResult:
    """Train cfg on data (a CharCorpus for 'gpt', Digits for 'vit') for tc.steps steps.

    out: a folder for checkpoint.safetensors, model.safetensors (final weights) and config.json; with
    resume=True an existing checkpoint there is continued, giving the same result bit for bit as an
    uninterrupted run. on_grads(step, params, grads) may change the gradients before clipping;
    on_step(step, params) runs after each optimizer step. start: weights to begin from (fine-tuning)
    instead of tc.init; their SHA-256 is recorded.
    """
    if cfg.kind not in ("gpt", "vit"):
        raise ValueError(f"train() trains 'gpt' or 'vit' models, not {cfg.kind!r}")
    out = Path(out) if out is not None else None
    data_info = {"source": data.source, "sha256": data.sha256}
    meta = {"model_config": cfg.to_dict(), "train_config": tc.to_dict(), "data": data_info}
    batch_rng = np.random.default_rng([tc.seed, 1])
    params = {k: np.zeros(s, tc.dtype) for k, s in model.param_shapes(cfg).items()}
    if start is None:
        initialize(params, tc.init, rng=np.random.default_rng([tc.seed, 0]), **tc.init_kw)
    else:
        model.check_params(start, cfg)
        for k in params:
            params[k][...] = start[k]
        h = hashlib.sha256(b"".join(np.ascontiguousarray(params[k]).tobytes() for k in sorted(params)))
        meta["start_sha256"] = h.hexdigest()
    opt = AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    start, history, pending = 0, [], []
    ck = out / CHECKPOINT if out is not None else None
    if resume and ck is not None and ck.exists():
        p0, cfg0, meta0, opt0 = load_checkpoint(ck)
        if meta0.get("start_sha256") != meta.get("start_sha256"):
            raise TrainingError(f"cannot resume {ck}: it started from other weights (start_sha256 differs)")
        for key in ("model_config", "train_config", "data"):
            if meta0[key] != meta[key]:
                diff = {k: (meta0[key].get(k), v) for k, v in meta[key].items() if meta0[key].get(k) != v}
                raise TrainingError(f"cannot resume {ck}: its {key} differs from this run's "
                                    f"(field: (checkpoint, now)) {diff}")
        for k in params:
            params[k][...] = p0[k]
        opt.load_state_arrays(opt0, meta0["step"])
        batch_rng.bit_generator.state = meta0["batch_rng"]
        start, history, pending = meta0["step"], meta0["history"], meta0["pending_losses"]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "config.json",
                     lambda p: p.write_text(json.dumps({**meta, "versions": _versions()}, indent=2)))
    last_good = start if (ck is not None and ck.exists()) else None

    def save(step):
        save_checkpoint(ck, params, {**meta, "step": step, "batch_rng": batch_rng.bit_generator.state,
                                     "history": history, "pending_losses": losses, "versions": _versions()},
                        opt.state_arrays())

    every = tc.checkpoint_every or tc.eval_every
    tokens = tc.batch_size * (cfg.block_size if cfg.kind == "gpt" else cfg.n_patches + 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=tc.steps, initial=start, desc=f"train {cfg.kind}", unit="step", dynamic_ncols=True)
    losses, t0, val, row = list(pending), time.perf_counter(), "-", {}
    try:
        for step in range(start, tc.steps):
            if cfg.kind == "gpt":
                x, y = data.batch(batch_rng, tc.batch_size, cfg.block_size)
            else:
                x, y = data.batch(batch_rng, tc.batch_size)
            loss, grads = model.loss_and_grads(params, cfg, x, y, tc.shards)
            if on_grads is not None:
                on_grads(step, params, grads)
            norm = clip_grad_norm(grads, tc.grad_clip)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                where = f"the last good checkpoint is {ck} (step {last_good})" if last_good is not None \
                    else "no checkpoint was written yet"
                what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {norm} (loss {loss})"
                raise TrainingError(f"{what} at step {step}: training stopped; {where}. "
                                    "Try a lower learning rate or a smaller init scale.")
            lr = lr_at(step, tc.lr, tc.warmup, tc.steps, tc.min_lr_ratio)
            opt.step(grads, lr)
            if on_step is not None:
                on_step(step, params)
            losses.append(loss)
            done = step + 1
            if done % tc.eval_every == 0 or done == tc.steps:
                dt = time.perf_counter() - t0
                row = {"step": done, "lr": lr, "train_loss": float(np.mean(losses)), **evaluate(params, cfg, data, tc),
                       "tokens_per_s": len(losses) * tokens / dt}
                history.append(row)
                losses, t0 = [], time.perf_counter()
                if bar is not None:
                    val = f"{row['val_loss']:.3f}"
            if ck is not None and (done % every == 0 or done == tc.steps):
                save(done)
                last_good = done
            if bar is not None:
                if done % 10 == 0 or done == tc.steps:  # running loss and speed, every 10 steps
                    tok_s = len(losses) * tokens / (time.perf_counter() - t0) if losses else row["tokens_per_s"]
                    shown = losses[-10:] or [row["train_loss"]]
                    bar.set_postfix(loss=f"{np.mean(shown):.3f}", val=val, tok_s=f"{tok_s:.0f}", refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if out is not None:
        save_checkpoint(out / MODEL, params, {**meta, "step": tc.steps, "history": history, "versions": _versions()})
    return TrainResult(params, cfg, tc, history, data_info)


def steps_to(points, target: float) -> float:
    """First step at which the validation loss is <= target, from (step, val_loss) pairs in step order,
    interpolated linearly between evaluations; nan if never (the studies' "steps to target")."""
    prev = None
    for step, loss in points:
        if loss <= target:
            if prev is None:
                return float(step)
            s0, l0 = prev
            return float(s0 + (step - s0) * (l0 - target) / (l0 - loss))
        prev = (step, loss)
    return float("nan")


def load_data(kind: str, text: str | None = None):
    return CharCorpus.load(text) if kind == "gpt" else Digits()
