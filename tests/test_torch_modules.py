"""Fake-quant training, packed linear layers, GG methods for torch, DDP."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rf8lab as rl
from rf8lab import nn as rnn

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from rf8lab import torch as rt  # noqa: E402
from rf8lab.methods.torch_methods import BackSlash, deepshape_, gg_init_  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 4))


def test_fake_quant_is_straight_through():
    x = torch.randn(8, 40, requires_grad=True)
    y = rt.fake_quant(x, "rf8", scale="channel")
    np.testing.assert_array_equal(y.detach().numpy(), rl.quantize(x.detach().numpy(), "rf8", scale="channel"))
    g = torch.randn_like(x)
    y.backward(g)
    assert torch.equal(x.grad, g)


@pytest.mark.parametrize("fmt", ["rf8", "e4m3", "int8", "mxfp8"])
def test_packed_linear_equals_fake_quant_and_round_trips(fmt):
    m = _mlp()
    if fmt == "mxfp8":
        m[0] = nn.Linear(32, 32)
        m[3] = nn.Linear(32, 4)
        x = torch.randn(5, 32)
        m = nn.Sequential(m[0], m[1], m[2], m[3])
    else:
        x = torch.randn(5, 16)
    quant = {"scale": "block"} if fmt == "mxfp8" else {}
    qat = rt.prepare_qat(copy.deepcopy(m), fmt, **quant)
    assert isinstance(qat[0], rt.FakeQuantLinear)
    y = qat(x)
    y.sum().backward()  # trains through the fake quantizer
    assert qat[0].weight.grad is not None
    packed = rt.convert(copy.deepcopy(qat))
    assert isinstance(packed[0], rt.QuantLinear) and packed[0].codes.dtype == torch.uint8
    assert torch.equal(packed(x), y.detach())
    sd = packed.state_dict()
    other = rt.convert(copy.deepcopy(qat))
    with torch.no_grad():
        for b in other.buffers():
            b.zero_()
    other.load_state_dict(sd)
    assert torch.equal(other(x), y.detach())
    nbytes = sum(v.numel() * v.element_size() for k, v in sd.items() if k.endswith("codes"))
    assert nbytes == sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight") and p.dim() == 2)


def test_gg_init_equals_numpy():
    m = _mlp().double()
    gg_init_(m, shape=0.8, xi=2.0, fan="in", rng=3)
    ref = {k: np.zeros(tuple(p.shape)) for k, p in m.named_parameters()}
    rnn.gg_init(ref, shape=0.8, xi=2.0, fan="in", rng=3)
    for k, p in m.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), ref[k])
    assert (m[2].weight == 1).all() and (m[0].bias == 0).all()


def test_backslash_and_deepshape_equal_numpy():
    from rf8lab.methods.backslash import BackSlash as NpBackSlash
    from rf8lab.methods.deepshape import deepshape

    m = _mlp().double()
    gg_init_(m, shape=1.0, rng=0)
    params = {k: p.detach().numpy().copy() for k, p in m.named_parameters()}
    bs, ref = BackSlash(lam=2.0), NpBackSlash(lam=2.0)
    bs.loss(m).backward()
    _, g, _ = ref.rate_and_grads(params)
    for k, p in m.named_parameters():
        if k in g:
            np.testing.assert_allclose(p.grad.numpy(), 2.0 * g[k], rtol=1e-12)
        else:
            assert p.grad is None or (p.grad == 0).all()
    m2 = copy.deepcopy(m)
    BackSlash(lam=2.0).step(m2)
    q = {k: v.copy() for k, v in params.items()}
    NpBackSlash(lam=2.0, form="decoupled").on_step(0, q)
    for k, p in m2.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), q[k], rtol=1e-12, atol=1e-15)
    info = deepshape_(m, step=2.0 ** -10)
    new, info2 = deepshape(params, step=2.0 ** -10)
    assert info == info2
    for k, p in m.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), new[k])


def test_ddp_equals_single_process(tmp_path):
    """GG init + BackSlash: 2 processes (torchrun, gloo, CPU) give the weights of one process with the
    same global batch."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    script = str(ROOT / "scripts" / "ddp_train.py")
    subprocess.run([sys.executable, script, "--out", str(tmp_path / "one"), "--steps", "10"], check=True, env=env,
                   timeout=300)
    import socket

    with socket.socket() as sock:  # a free port, so that parallel or repeated runs do not collide
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
                        script, "--out", str(tmp_path / "two"), "--steps", "10"], env=env, timeout=300,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    a, b = torch.load(tmp_path / "one" / "weights.pt"), torch.load(tmp_path / "two" / "weights.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-12, atol=1e-14)
    assert not torch.equal(a["0.weight"], torch.zeros_like(a["0.weight"]))


def test_decode_once_cache_follows_the_codes():
    """cache=True gives the uncached output, holds one decoded weight, and decodes again when the codes change
    (load_state_dict, in-place edits); the cache is not part of the state dict."""
    torch.manual_seed(0)
    lin, x = nn.Linear(24, 40), torch.randn(6, 24)
    plain, cached = rt.QuantLinear.from_linear(lin, "rf8"), rt.QuantLinear.from_linear(lin, "rf8", cache=True)
    assert cached.cache_bytes() == 0
    assert torch.equal(cached(x), plain(x)) and torch.equal(cached(x), plain(x))
    assert cached.cache_bytes() == 40 * 24 * 4
    other = rt.QuantLinear.from_linear(nn.Linear(24, 40), "rf8")
    cached.load_state_dict(other.state_dict())
    assert set(cached.state_dict()) == set(other.state_dict())
    assert torch.equal(cached(x), other(x))
    with torch.no_grad():
        cached.codes[0] = 0
        other.codes[0] = 0
    assert torch.equal(cached(x), other(x))
    model = rt.convert(nn.Sequential(nn.Linear(24, 8)), cache=True)
    assert model[0].cache and "cache=True" in repr(model)
