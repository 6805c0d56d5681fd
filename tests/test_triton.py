"""The Triton W8A16 kernel equals F.linear(x, decode(enc)) for every 8-bit-or-narrower format and scale layout
(on CPU in Triton's interpreter: TRITON_INTERPRET=1, which rf8lab.torch.triton_kernels sets without CUDA)."""
import os

import numpy as np
import pytest

import rf8lab as rl

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():  # before triton is imported: it reads the flag once
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")
import torch.nn.functional as F  # noqa: E402

from rf8lab import torch as rt  # noqa: E402
from rf8lab.torch import triton_kernels as tk  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
CASES = [("rf8", "channel"), ("rf8", "tensor"), ("rf8", "block"), ("rf8:log", "channel"), ("e4m3", "channel"),
         ("e5m2", "tensor"), ("int8", "channel"), ("int4", "channel"), ("e2m1", "block"), ("mxfp8", "auto"),
         ("mxfp4", "auto"), ("nvfp4", "auto")]


@pytest.mark.parametrize("fmt,scale", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_w8a16_equals_linear_of_the_decoded_weight(fmt, scale, dtype):
    g = torch.Generator().manual_seed(0)
    n, k, m = 72, 96, 5  # not multiples of the tiles: the masks are exercised
    w = torch.randn(n, k, generator=g) * 0.05
    x = torch.randn(3, m, k, generator=g).to(dtype)
    bias = torch.randn(n, generator=g)
    enc = rt.encode(w, rt.weight_spec(fmt, scale=scale))
    want = F.linear(x.float(), rt.decode(enc), bias)
    dev = rt.encode(w.to(DEVICE), rt.weight_spec(fmt, scale=scale))
    got = tk.linear(x.to(DEVICE), dev, bias.to(DEVICE)).cpu()
    assert got.dtype == dtype and got.shape == (3, m, n)
    tol = 1e-5 if dtype == torch.float32 else 1e-2  # float32 sums in another order; the output rounded to dtype
    torch.testing.assert_close(got.float(), want.to(dtype).float(), rtol=tol, atol=tol)


def test_w8a16_is_exact_where_the_sums_are():
    """Integer activations and unscaled RF8 weights of a narrow range: every product and partial sum is exact in
    float32, so the kernel equals the decoded matmul bit for bit whatever the summation order."""
    g = torch.Generator().manual_seed(1)
    codes = rl.encode(np.ldexp(1.0, np.arange(-4, 4)).astype(np.float32), "rf8", scale=None).codes
    pick = torch.randint(0, codes.size, (40, 64), generator=g)
    w = torch.from_numpy(rl.decode(codes, fmt="rf8"))[pick] * torch.where(torch.rand(40, 64, generator=g) < .5, -1, 1)
    enc = rt.encode(w, "rf8", scale=None)
    x = torch.randint(-8, 9, (7, 64), generator=g).float()
    assert torch.equal(tk.linear(x.to(DEVICE), rt.encode(w.to(DEVICE), "rf8", scale=None)).cpu(),
                       F.linear(x, rt.decode(enc)))


def test_refusals():
    enc = rt.encode(torch.randn(8, 16), "rf8", scale="channel", axis=1)
    with pytest.raises(ValueError, match="per output channel"):
        tk.linear(torch.randn(2, 16), enc)
    with pytest.raises(ValueError, match="input features"):
        tk.linear(torch.randn(2, 15), rt.encode(torch.randn(8, 16), "rf8"))
    with pytest.raises(TypeError, match="activations"):
        tk.linear(torch.randn(2, 16, dtype=torch.float64), rt.encode(torch.randn(8, 16), "rf8"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the dry run is for machines without a GPU")
def test_gpu_check_dry_run(tmp_path):
    """scripts/gpu_check.py (the one prepared run for a lent GPU) runs end to end: --device cpu --quick."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "gpu_check.md"
    script = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"
    r = subprocess.run([sys.executable, str(script), "--device", "cpu", "--quick", "--skip-tests",
                        "--repeat", "1", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads(r.stdout.strip().splitlines()[-1])
    assert not [k for k in results if k.endswith("failed")], results
    assert "w8a16 256x256 batch 1 speedup" in results and "## A small transformer" in out.read_text()
