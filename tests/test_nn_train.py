"""Initializations, the optimizer, data, and training runs: determinism, resume, NaN stops, atomic checkpoints."""
import json

import numpy as np
import pytest

from rf8lab import gg, nn
from rf8lab.cli import main as cli
from rf8lab.nn import train

VIT = nn.Config("vit", n_layer=1, n_head=2, d_model=16, n_classes=10, patch_size=4)
TC = train.TrainConfig(steps=6, batch_size=8, lr=3e-3, warmup=2, eval_every=3)


@pytest.fixture(scope="module")
def digits():
    return nn.Digits()


# ---- initialization ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("fan", ["in", "out"])
def test_gg_init_variance_and_shape(shape, fan):
    p = {"w.weight": np.zeros((600, 300)), "w.bias": np.ones(600), "n.weight": np.zeros(300)}
    nn.gg_init(p, shape=shape, xi=2.0, fan=fan, rng=0)
    n = 300 if fan == "in" else 600  # fan_in = shape[1] for (out, in) weights
    w = p["w.weight"]
    assert w.var() == pytest.approx(2.0 / n, rel=0.06)
    assert gg.fit(w).shape == pytest.approx(shape, rel=0.05)
    assert (p["w.bias"] == 0).all() and (p["n.weight"] == 1).all()


def test_baseline_inits():
    shapes = {"a.weight": (400, 200), "a.bias": (400,)}
    p = nn.initialize({k: np.zeros(s) for k, s in shapes.items()}, "normal", rng=1)
    assert p["a.weight"].std() == pytest.approx(0.02, rel=0.02)
    p = nn.xavier_init({k: np.zeros(s) for k, s in shapes.items()}, rng=1)
    bound = np.sqrt(6 / 600)
    assert np.abs(p["a.weight"]).max() <= bound and np.abs(p["a.weight"]).max() > 0.99 * bound
    p = nn.kaiming_init({k: np.zeros(s) for k, s in shapes.items()}, rng=1)
    assert p["a.weight"].var() == pytest.approx(2 / 200, rel=0.03)


def test_init_is_deterministic_and_validated():
    a, b = nn.init_params(VIT, "gg", seed=3, shape=0.7), nn.init_params(VIT, "gg", seed=3, shape=0.7)
    assert all((a[k] == b[k]).all() for k in a)
    assert (a["cls_token"] == 0).all()
    with pytest.raises(ValueError, match="fan must be 'in' or 'out'"):
        nn.init_params(VIT, "gg", fan="sideways")
    with pytest.raises(ValueError, match="shape must be > 0"):
        nn.init_params(VIT, "gg", shape=0)
    with pytest.raises(ValueError, match="not one of"):
        nn.init_params(VIT, "orthogonal")


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of n_head"):
        nn.Config("gpt", d_model=10, n_head=4, vocab_size=5)
    with pytest.raises(ValueError, match="needs vocab_size"):
        nn.Config("gpt")
    with pytest.raises(ValueError, match="kind 'rnn'"):
        nn.Config("rnn")
    with pytest.raises(ValueError, match="unknown config fields"):
        nn.Config.from_dict({"kind": "gpt", "vocab_size": 3, "dropout": 0.1})
    with pytest.raises(ValueError, match="exceeds block_size"):
        cfg = nn.Config("gpt", vocab_size=5, block_size=4, d_model=8, n_head=2)
        nn.forward(nn.init_params(cfg), cfg, np.zeros((1, 5), int), np.zeros((1, 5), int))


# ---- optimizer -----------------------------------------------------------------------------------
def test_adamw_clip_and_schedule_equal_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p = {"w.weight": rng.normal(size=(5, 4)), "w.bias": rng.normal(size=5)}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    opt = nn.AdamW(p, lr=0.1, weight_decay=0.1)
    topt = torch.optim.AdamW([{"params": [tp["w.weight"]], "weight_decay": 0.1},
                              {"params": [tp["w.bias"]], "weight_decay": 0.0}], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(topt, lambda s: nn.lr_at(s, 1.0, 3, 10))
    for step in range(6):
        g = {k: rng.normal(size=v.shape) * 3 for k, v in p.items()}
        for k in tp:
            tp[k].grad = torch.tensor(g[k])
        n_ours = nn.clip_grad_norm(g, 1.0)
        n_torch = float(torch.nn.utils.clip_grad_norm_(list(tp.values()), 1.0))
        assert n_ours == pytest.approx(n_torch, rel=1e-12)
        opt.step(g, lr=nn.lr_at(step, 0.1, 3, 10))
        topt.step()
        sched.step()
        for k in p:
            np.testing.assert_allclose(p[k], tp[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_lr_schedule():
    lrs = [nn.lr_at(s, 1.0, 10, 110) for s in range(111)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[110] == pytest.approx(0.1) and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


# ---- data ----------------------------------------------------------------------------------------
def test_corpus(tmp_path):
    c = nn.CharCorpus.load()
    assert c.vocab_size > 80 and len(c.val) == len(c.text) - int(len(c.text) * 0.9)
    x, y = c.batch(np.random.default_rng(0), 4, 16)
    assert x.shape == (4, 16) and (x[:, 1:] == y[:, :-1]).all()
    v1 = [b[0] for b in c.val_batches(8, 16, 20)]
    v2 = [b[0] for b in c.val_batches(8, 16, 20)]
    assert all((a == b).all() for a, b in zip(v1, v2)) and sum(len(b) for b in v1) == 20
    f = tmp_path / "t.txt"
    f.write_text("héllo wörld " * 50, encoding="utf-8")
    t = nn.CharCorpus.load(str(f))
    assert t.decode(t.train[:5]) == "héllo"
    f.write_bytes(b"\xff\xfe" * 100)
    with pytest.raises(ValueError, match="not UTF-8"):
        nn.CharCorpus.load(str(f))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nn.CharCorpus.load(str(tmp_path / "missing.txt"))


def test_digits_split(digits):
    assert digits.x_train.shape == (1437, 8, 8) and len(digits.y_test) == 360
    assert np.bincount(digits.y_test).min() >= 35  # stratified
    assert 0 <= digits.x_train.min() and digits.x_train.max() <= 1


# ---- training runs -------------------------------------------------------------------------------
def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def _losses(history):
    return [(h["step"], h["train_loss"], h["val_loss"]) for h in history]


def test_training_learns_and_is_deterministic(digits):
    tc = train.TrainConfig(steps=40, batch_size=32, lr=3e-3, warmup=5, eval_every=20)
    r1 = train.train(VIT, tc, digits, progress=False)
    r2 = train.train(VIT, tc, digits, progress=False)
    assert _same(r1.params, r2.params) and _losses(r1.history) == _losses(r2.history)
    assert r1.history[-1]["val_loss"] < np.log(10) - 0.3 and r1.history[-1]["val_acc"] > 0.3


def test_resume_is_bit_identical(tmp_path, digits):
    full = train.train(VIT, TC, digits, out=tmp_path / "a", progress=False)

    def crash(step, params):
        if step == 3:  # after the checkpoint at step 3, before step 4's
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train.train(VIT, TC, digits, out=tmp_path / "b", progress=False, on_step=crash)
    assert train.load_checkpoint(tmp_path / "b")[2]["step"] == 3
    resumed = train.train(VIT, TC, digits, out=tmp_path / "b", resume=True, progress=False)
    assert _same(full.params, resumed.params) and _losses(full.history) == _losses(resumed.history)
    a, b = train.load_checkpoint(tmp_path / "a"), train.load_checkpoint(tmp_path / "b")
    assert _same(a[3], b[3])  # optimizer moments too
    with pytest.raises(train.TrainingError, match=r"train_config differs.*'lr': \(0.003, 0.001\)"):
        train.train(VIT, train.TrainConfig(**{**TC.to_dict(), "lr": 1e-3}), digits, out=tmp_path / "b", resume=True,
                progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, digits):
    def poison(step, params):
        if step == 3:
            params["head.weight"][0, 0] = np.nan

    with pytest.raises(train.TrainingError, match=r"loss nan at step 4.*last good checkpoint is .*\(step 3\)"):
        train.train(VIT, TC, digits, out=tmp_path, progress=False, on_step=poison)
    params, cfg, meta, _ = train.load_checkpoint(tmp_path)
    assert meta["step"] == 3 and all(np.isfinite(v).all() for v in params.values())
    assert not list(tmp_path.glob("*.tmp*"))


def test_failed_write_keeps_the_old_checkpoint(tmp_path, digits, monkeypatch):
    train.train(VIT, TC, digits, out=tmp_path, progress=False)
    before = (tmp_path / train.CHECKPOINT).read_bytes()
    from rf8lab.io import safetensors

    def broken(path, mode="r"):  # the writer's file fills up half way
        with open(path, mode) as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors, "open", broken, raising=False)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(tmp_path / train.CHECKPOINT, {"x": np.zeros(3)}, {})
    assert (tmp_path / train.CHECKPOINT).read_bytes() == before and not list(tmp_path.glob("*.tmp*"))


def test_corrupt_checkpoint_error(tmp_path):
    f = tmp_path / "checkpoint.safetensors"
    f.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(train.TrainingError, match="not a readable rf8lab checkpoint"):
        train.load_checkpoint(f)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train.load_checkpoint(tmp_path / "none.safetensors")


def test_cli_train_writes_a_model_the_fit_tools_read(tmp_path, capsys):
    assert cli(["train", "gpt", "--steps", "3", "--eval-every", "3", "--batch-size", "4", "--d-model", "16",
                "--n-layer", "1", "--block-size", "16", "--init", "gg", "--shape", "0.8", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "step 3: train loss" in out and "init gg" in out
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["train_config"]["init_kw"] == {"shape": 0.8, "xi": 2.0, "fan": "in"}
    assert len(cfg["data"]["sha256"]) == 64
    from rf8lab.io.checkpoints import load

    tensors = load(str(tmp_path / "model.safetensors"))
    assert tensors["blocks.0.mlp.fc.weight"].shape == (64, 16)
