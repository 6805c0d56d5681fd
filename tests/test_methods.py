"""BackSlash, DeepShape and pruning on parameter dicts and in training."""
import numpy as np
import pytest

from rf8lab import entropy, gg, nn
from rf8lab.methods.backslash import BackSlash, estimate_shape
from rf8lab.methods.deepshape import deepshape, prune, sparsity
from rf8lab.nn import train


def _params(shape=1.0, seed=0):
    return {"a.weight": gg.gg(shape, 0.02).rvs((300, 200), random_state=seed),
            "b.weight": gg.gg(shape, 0.05).rvs((100, 50), random_state=seed + 1), "a.bias": np.full(300, 0.1)}


@pytest.mark.parametrize("method", ["moments", "mle"])
@pytest.mark.parametrize("nu", [0.7, 1.5])
def test_shape_estimates(method, nu):
    x = gg.gg(nu, 1.0).rvs(200000, random_state=3)
    assert estimate_shape(x, method) == pytest.approx(nu, rel=0.03)


def test_rate_gradient_is_the_derivative_of_the_soft_clipped_rate():
    p = _params()
    bs = BackSlash(lam=1.0, eps=1e-3)
    R, g, nus = bs.rate_and_grads(p)
    assert set(g) == {"a.weight", "b.weight"} and len(set(nus.values())) == 1
    N = 300 * 200 + 100 * 50
    nu = nus["a.weight"]
    assert R == pytest.approx(sum(np.sum(np.abs(p[k]) ** nu) for k in g) / N)
    w = p["b.weight"]
    for i in [(0, 0), (5, 7), (99, 49)]:
        f = lambda v: (abs(v) + 1e-3) ** nu / N  # noqa: E731
        h = 1e-7
        fd = (f(w[i] + h) - f(w[i] - h)) / (2 * h)
        assert g["b.weight"][i] == pytest.approx(fd, rel=1e-5)
    per = BackSlash(lam=1.0, pooled=False).shapes(p)
    assert per["a.weight"] != per["b.weight"]


def test_forms_and_schedule():
    p = _params()
    loss = BackSlash(lam=2.0, form="loss", until=3)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    loss.on_grads(0, p, grads)
    _, g, _ = loss.rate_and_grads(p)
    np.testing.assert_allclose(grads["a.weight"], 2.0 * g["a.weight"])
    assert (grads["a.bias"] == 0).all() and len(loss.history) == 1
    loss.on_grads(3, p, grads)  # past `until`: ordinary training
    assert len(loss.history) == 1
    dec = BackSlash(lam=2.0, form="decoupled")
    q = {k: v.copy() for k, v in p.items()}
    dec.on_step(0, q)
    np.testing.assert_allclose(q["a.weight"], p["a.weight"] - 2.0 * g["a.weight"])
    dec.on_grads(0, q, grads)  # the decoupled form does nothing through the gradients
    assert len(dec.history) == 1
    with pytest.raises(ValueError, match="form must be"):
        BackSlash(lam=1.0, form="weird")
    with pytest.raises(ValueError, match="shape method"):
        BackSlash(lam=1.0, method="guess")


@pytest.mark.parametrize("form", ["loss", "decoupled"])
def test_backslash_training_shrinks_the_code(form):
    cfg = nn.Config("vit", n_layer=1, n_head=2, d_model=32, n_classes=10, patch_size=4)
    tc = train.TrainConfig(steps=60, batch_size=32, lr=3e-3, warmup=5, eval_every=60)
    data = nn.Digits()
    plain = train.train(cfg, tc, data, progress=False)
    bs = BackSlash(lam=30.0, form=form)
    rate = train.train(cfg, tc, data, progress=False, on_grads=bs.on_grads, on_step=bs.on_step)
    w0 = np.concatenate([plain.params[k].ravel() for k in bs.names(plain.params)])
    w1 = np.concatenate([rate.params[k].ravel() for k in bs.names(rate.params)])
    b0 = entropy.bits_per_param(w0, step=2 ** -10)["exp_golomb"]
    b1 = entropy.bits_per_param(w1, step=2 ** -10)["exp_golomb"]
    assert b1 < b0 - 1.0 and len(bs.history) == 60


def test_deepshape():
    p = _params(1.0)
    step = 2.0 ** -13
    new, info = deepshape(p, step=step, core_frac=1e-4)
    x, y = np.concatenate([p[k].ravel() for k in ("a.weight", "b.weight")]), \
        np.concatenate([new[k].ravel() for k in ("a.weight", "b.weight")])
    assert (new["a.bias"] == p["a.bias"]).all()
    core = info["pooled"]["core"]
    assert 0.9 * x.size < core < x.size and info["pooled"]["moved"] > core // 2
    o = np.argsort(x, kind="stable")
    assert (np.diff(y[o]) >= 0).all()  # rank preserving
    lev = np.round(x / step)
    moved = y != x
    np.testing.assert_array_equal(np.round(y[moved] / step) * step, y[moved])  # on the grid
    b0 = entropy.bits_per_param(x, step=step)["entropy"]
    b1 = entropy.bits_per_param(y, step=step)["entropy"]
    assert b1 < b0 - 0.2
    assert np.abs(y).max() == pytest.approx(np.abs(lev * step).max(), abs=step)  # tails left alone
    per, infos = deepshape(p, pooled=False)
    assert set(infos) == {"a.weight", "b.weight"}
    with pytest.raises(ValueError, match="fraction of the values"):
        deepshape(p, core_frac=1000)


def test_prune():
    p = _params()
    q = prune(p, 0.6)
    assert sparsity(q) == pytest.approx(0.6, abs=1e-4) and (q["a.bias"] == 0.1).all()
    kept = np.concatenate([np.abs(q[k][q[k] != 0]) for k in ("a.weight", "b.weight")])
    gone = np.concatenate([np.abs(p[k][q[k] == 0]) for k in ("a.weight", "b.weight")])
    assert kept.min() >= gone.max()
    t = prune(p, 0.3, scope="tensor")
    assert all((t[k] == 0).mean() == pytest.approx(0.3, abs=1e-3) for k in ("a.weight", "b.weight"))
    assert sparsity(prune(p, 0.0)) == 0
    with pytest.raises(ValueError, match="fraction must be in"):
        prune(p, 1.5)


def test_pipeline_end_to_end(tmp_path, capsys):
    import json

    import rf8lab as rl
    from rf8lab.cli import main as cli
    from rf8lab.methods import pipeline

    assert cli(["pipeline", "vit", "--steps", "20", "--lams", "30", "-o", str(tmp_path)]) == 0
    assert "rf8:log:none" in capsys.readouterr().out
    r = json.loads((tmp_path / "pipeline.json").read_text())
    assert [row["tag"] for row in r["results"]] == ["a", "b", "c", "d0", "d", "e0", "e"]
    assert [row["lam"] for row in r["results"]] == [None, None, 30, 30, 30, None, None]
    assert [(row["source"], row["finetuned"]) for row in r["results"][3:]] == [("c", False), ("c", True),
                                                                               ("b", False), ("b", True)]
    row = r["results"][2]
    assert set(row["formats"]) == {pipeline.FLOAT32, *(s.key for s in pipeline.SPECS)}
    assert 0 <= row["formats"]["float32"]["val_acc"] <= 1
    assert (row["sizes"]["entropy"] <= row["sizes"]["huffman"]
            and row["formats"]["rf8:log:none"]["code_bits"]["fixed"] == 8)
    assert r["nu"][0]["lam"] == 30 and len(r["nu"][0]["history"]) == int(0.6 * 20)
    assert [p["tag"] for p in r["pruning"]] == ["a", "b", "c"] and r["pruning"][2]["curve"][-1]["fraction"] == 0.9
    assert r["settings"]["backslash_frac"] == 0.6 and r["settings"]["specs"][0] == "rf8:log:none"
    p = {"w.weight": np.random.default_rng(0).normal(0, 0.05, (8, 64)).astype(np.float32),
         "w.bias": np.ones(8, np.float32)}
    q = pipeline.convert(p, rl.QuantSpec.parse("rf8:log:none"))
    assert ((q["w.weight"] == rl.quantize(p["w.weight"], "rf8", rounding="log", scale=None)).all()
            and q["w.bias"] is p["w.bias"])
