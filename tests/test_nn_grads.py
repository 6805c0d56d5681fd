"""The hand-written backward passes against central finite differences and torch autograd (float64)."""
import numpy as np
import pytest

from rf8lab import nn
from rf8lab.nn import layers

RNG = np.random.default_rng(0)


def _fd_check(fn, arrays: dict, grads: dict, eps=1e-6, max_entries=40, rtol=1e-6):
    """Compare grads[name] with central differences of the scalar fn() over entries of arrays[name];
    the floor allows for the differences' own rounding error, about 1e-16 * |f| / eps."""
    floor = 1e-8 * max(1.0, abs(fn()))
    for name, a in arrays.items():
        flat = a.reshape(-1)
        idx = np.arange(flat.size) if flat.size <= max_entries else RNG.choice(flat.size, max_entries, replace=False)
        g = grads[name].reshape(-1)
        scale = max(np.abs(g).max(), 1e-8)
        for i in idx:
            old = flat[i]
            flat[i] = old + eps
            fp = fn()
            flat[i] = old - eps
            fm = fn()
            flat[i] = old
            fd = (fp - fm) / (2 * eps)
            assert abs(fd - g[i]) <= rtol * scale + floor, (name, i, fd, g[i])


def _params(shapes):
    return {k: RNG.normal(0, 0.5, s) for k, s in shapes.items()}


def _layer_case(forward, backward, p, x):
    """Check d/dx and d/dparams of sum(R * forward(p, x)) for a fixed random R."""
    y, cache = forward(p, x)
    R = RNG.normal(size=y.shape)
    grads = {}
    dx = backward(p, R, cache, grads)
    _fd_check(lambda: float(np.sum(R * forward(p, x)[0])), {"x": x, **p}, {"x": dx, **grads})


def test_linear():
    p = _params({"l.weight": (5, 4), "l.bias": (5,)})
    _layer_case(lambda p, x: layers.linear(p, "l", x), lambda p, d, c, g: layers.linear_backward(p, "l", d, c, g), p,
                RNG.normal(size=(2, 3, 4)))


def test_layernorm():
    p = _params({"n.weight": (6,), "n.bias": (6,)})
    _layer_case(lambda p, x: layers.layernorm(p, "n", x, 1e-5),
                lambda p, d, c, g: layers.layernorm_backward(p, "n", d, c, g), p, RNG.normal(size=(2, 3, 6)))


def test_mlp():
    p = _params({"m.fc.weight": (8, 4), "m.fc.bias": (8,), "m.proj.weight": (4, 8), "m.proj.bias": (4,)})
    _layer_case(lambda p, x: layers.mlp(p, "m", x), lambda p, d, c, g: layers.mlp_backward(p, "m", d, c, g), p,
                RNG.normal(size=(2, 3, 4)))


@pytest.mark.parametrize("causal,padded", [(True, False), (False, False), (False, True)])
def test_attention(causal, padded):
    D, T = 6, 5
    p = _params({f"a.{n}.{w}": (D, D) if w == "weight" else (D,) for n in "qkvo" for w in ("weight", "bias")})
    keep = np.ones((2, T), bool)
    if padded:
        keep[1, 3:] = False
    _layer_case(lambda p, x: layers.attention(p, "a", x, 2, causal, keep),
                lambda p, d, c, g: layers.attention_backward(p, "a", d, c, g), p, RNG.normal(size=(2, T, D)))


@pytest.mark.parametrize("kind", ["gpt", "bert"])  # pre-norm and post-norm blocks
def test_block(kind):
    cfg = nn.Config(kind, n_layer=1, n_head=2, d_model=6, d_ff=10, vocab_size=3, block_size=5)
    p = {k: v for k, v in nn.init_params(cfg, "normal", std=0.5, dtype="float64").items() if k.startswith("blocks.0")}
    for k in p:
        p[k] += RNG.normal(0, 0.2, p[k].shape)  # gains and biases away from 1 and 0
    keep = np.ones((2, 5), bool)
    _layer_case(lambda p, x: layers.block(p, "blocks.0", x, cfg, keep),
                lambda p, d, c, g: layers.block_backward(p, "blocks.0", d, c, cfg, g), p, RNG.normal(size=(2, 5, 6)))


def test_cross_entropy_and_embedding():
    logits = RNG.normal(size=(4, 7))
    t = RNG.integers(0, 7, 4)
    loss, d = layers.cross_entropy(logits, t)
    _fd_check(lambda: layers.cross_entropy(logits, t)[0], {"x": logits}, {"x": d})
    ref = -np.mean(np.log(np.exp(logits[np.arange(4), t]) / np.exp(logits).sum(1)))
    assert loss == pytest.approx(ref, rel=1e-12)
    p = {"e.weight": RNG.normal(size=(5, 3))}
    idx = np.array([[1, 1, 4], [0, 1, 2]])
    R = RNG.normal(size=(2, 3, 3))
    grads = {}
    layers.embedding_backward(p, "e", R, idx, grads)
    _fd_check(lambda: float(np.sum(R * layers.embedding(p, "e", idx))), p, grads)


def _model(kind):
    if kind == "gpt":
        cfg = nn.Config("gpt", n_layer=2, n_head=2, d_model=8, block_size=6, vocab_size=11)
        x, y = RNG.integers(0, 11, (3, 6)), RNG.integers(0, 11, (3, 6))
    else:
        cfg = nn.Config("vit", n_layer=2, n_head=2, d_model=8, n_classes=10, image_size=8, patch_size=4)
        x, y = RNG.random((3, 8, 8)), RNG.integers(0, 10, 3)
    p = nn.init_params(cfg, "gg", seed=1, dtype="float64", shape=1.0)
    for k in p:  # gains, biases and the class token away from 1 and 0
        if p[k].ndim == 1:
            p[k] += RNG.normal(0, 0.2, p[k].shape)
    return cfg, p, x, y


@pytest.mark.parametrize("kind", ["gpt", "vit"])
def test_whole_model_finite_differences(kind):
    cfg, p, x, y = _model(kind)
    loss, grads = nn.loss_and_grads(p, cfg, x, y)
    assert set(grads) == set(p)
    _fd_check(lambda: nn.forward(p, cfg, x, y)[0], p, grads, max_entries=6)


@pytest.mark.parametrize("kind", ["gpt", "vit"])
def test_whole_model_equals_torch_autograd(kind):
    pytest.importorskip("torch")
    from rf8lab.nn import torch_ref

    cfg, p, x, y = _model(kind)
    loss, grads = nn.loss_and_grads(p, cfg, x, y)
    tloss, tgrads = torch_ref.loss_and_grads(p, cfg, x, y)
    assert loss == pytest.approx(tloss, rel=1e-6)
    for k in p:
        np.testing.assert_allclose(grads[k], tgrads[k], rtol=1e-6, atol=1e-6 * np.abs(tgrads[k]).max() + 1e-15,
                                   err_msg=k)


def test_bert_encoder_with_padding_equals_torch():
    torch = pytest.importorskip("torch")
    from rf8lab.nn import torch_ref

    cfg = nn.Config("bert", n_layer=2, n_head=2, d_model=8, block_size=7, vocab_size=13, ln_eps=1e-12)
    p = nn.init_params(cfg, "normal", seed=2, dtype="float64", std=0.3)
    ids = RNG.integers(0, 13, (3, 7))
    mask = np.ones((3, 7), np.int64)
    mask[1, 4:] = 0
    mask[2, 2:] = 0
    h = nn.hidden_states(p, cfg, ids, mask)
    ht = torch_ref.forward(torch_ref.to_torch(p, False), cfg, torch.as_tensor(ids), attention_mask=mask).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-12)
    e = nn.sentence_embedding(h, mask)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0)
    np.testing.assert_allclose(e[2], h[2, :2].mean(0) / np.linalg.norm(h[2, :2].mean(0)))
    # padding does not leak: the real tokens of row 2 see only themselves
    h2 = nn.hidden_states(p, cfg, ids[2:3, :2])
    np.testing.assert_allclose(h[2, :2], h2[0], rtol=1e-9, atol=1e-12)


def test_float32_gradients_close_to_float64():
    cfg, p, x, y = _model("gpt")
    _, g64 = nn.loss_and_grads(p, cfg, x, y)
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    _, g32 = nn.loss_and_grads(p32, cfg, x, y)
    for k in p:
        assert g32[k].dtype == np.float32
        np.testing.assert_allclose(g32[k], g64[k], atol=2e-5 * np.abs(g64[k]).max() + 1e-7, err_msg=k)


def test_sharded_step_equals_whole_batch():
    cfg, p, x, y = _model("gpt")
    loss, grads = nn.loss_and_grads(p, cfg, x[:2], y[:2])
    l2, g2 = nn.loss_and_grads(p, cfg, x[:2], y[:2], shards=2)
    assert l2 == pytest.approx(loss, rel=1e-12)
    for k in p:
        np.testing.assert_allclose(g2[k], grads[k], rtol=1e-10, atol=1e-14, err_msg=k)
    l3, g3 = nn.loss_and_grads(p, cfg, x[:2], y[:2], shards=2)
    assert l3 == l2 and all(np.array_equal(g3[k], g2[k]) for k in p)  # deterministic
    with pytest.raises(ValueError, match="dividing the batch size 3"):
        nn.loss_and_grads(p, cfg, x, y, shards=2)


def test_float32_kernels_match_float64():
    """The float32 exp and erf approximations stay within the errors docs/nn.md states."""
    from rf8lab.nn import numba_ops

    h = np.linspace(-12, 12, 200001)
    y64, d64 = np.empty_like(h), np.empty_like(h)
    numba_ops.gelu_forward(h, y64, d64)
    h32 = h.astype(np.float32)
    y32, d32 = np.empty_like(h32), np.empty_like(h32)
    numba_ops.gelu_forward(h32, y32, d32)
    assert np.max(np.abs(y32 - y64) / np.maximum(np.abs(h), 1)) < 1e-6
    assert np.max(np.abs(d32 - d64)) < 1e-6
    s = RNG.normal(0, 30, (4000, 16))
    s[:, 3] = -np.inf  # a padded key
    p64, p32 = np.empty_like(s), np.empty(s.shape, np.float32)
    numba_ops.softmax_forward(s, 0.25, True, p64)
    numba_ops.softmax_forward(s.astype(np.float32), 0.25, True, p32)
    assert np.max(np.abs(p32 - p64)) < 1e-6 and (p32[:, 3] == 0).all() and (p64[4:, 3] == 0).all()
    np.testing.assert_allclose(p64.sum(1), 1.0)
