"""The GG methods for torch modules, equal to the NumPy versions (rf8lab.nn.init, rf8lab.methods) on the same
inputs.

- `gg_init_(module, shape, xi, fan, rng)`: rf8lab.nn.gg_init on the module's parameters, in the
  order of `named_parameters()` (so the same seed gives the same weights as the NumPy version on a
  dict with the same names and order).
- `BackSlash(lam, ...)`: `.loss(module)` is the differentiable rate term lam * (1/N) sum (|w| + eps)^nu
  to add to the loss (its gradient is exactly the NumPy form's); `.step(module)` is the decoupled
  update for after `optimizer.step()`, or `.attach(optimizer, module)` registers it as a step hook.
- `deepshape_(module, ...)`: rf8lab.methods.deepshape on the module's 2-D weights, written back.
"""
from __future__ import annotations

import numpy as np

from ..optional import require

require("torch", "rf8lab.methods.torch_methods")
import torch  # noqa: E402 (after the guard)
from torch import nn  # noqa: E402

from ..nn.init import gg_init  # noqa: E402
from .backslash import BackSlash as NpBackSlash  # noqa: E402
from .deepshape import deepshape  # noqa: E402


def _numpy_params(module: nn.Module) -> dict:
    return {k: p.detach().cpu().numpy().copy() for k, p in module.named_parameters()}


@torch.no_grad()
def _write_back(module: nn.Module, arrays: dict) -> None:
    for k, p in module.named_parameters():
        if k in arrays:
            p.copy_(torch.from_numpy(np.asarray(arrays[k])).to(p.dtype))


def gg_init_(module: nn.Module, shape: float = 2.0, xi: float = 2.0, fan: str = "in", rng=None) -> nn.Module:
    """In place: 2-D weights ~ GG with Var = xi / fan (fan_in = shape[1], torch's convention;
    fan="out" is the authors' shape[0]); LayerNorm gains 1; biases 0."""
    arrays = gg_init(_numpy_params(module), shape=shape, xi=xi, fan=fan, rng=rng)
    _write_back(module, arrays)
    return module


def deepshape_(module: nn.Module, **kw) -> dict:
    """In place DeepShape of the 2-D weights (kwargs as rf8lab.methods.deepshape.deepshape); returns its info."""
    new, info = deepshape(_numpy_params(module), **kw)
    _write_back(module, new)
    return info


class BackSlash:
    def __init__(self, lam: float, eps: float = 1e-3, pooled: bool = True, method: str = "moments",
                 include: str = "2d"):
        # the NumPy BackSlash checks the arguments and chooses the weights and their shapes, so
        # both paths estimate nu the same way
        self.rule = NpBackSlash(lam=lam, eps=eps, pooled=pooled, method=method, include=include)
        self.lam, self.eps = lam, eps

    def _weights(self, module):
        params = dict(module.named_parameters())
        return [(k, params[k]) for k in self.rule.names(params)]

    @property
    def history(self) -> list:
        """As rf8lab.methods.BackSlash's (step = the number of the call), kept by the NumPy rule."""
        return self.rule.history

    def shapes(self, module) -> dict:
        return self.rule.shapes({k: p.detach().cpu().numpy() for k, p in self._weights(module)})

    def _prepare(self, module):
        """The weights, their shapes nu and N; records nu and R = (1/N) sum |w|^nu as the NumPy form does."""
        ws = self._weights(module)
        arrays = {k: p.detach().cpu().numpy() for k, p in ws}
        nus = self.rule.shapes(arrays)
        N = sum(a.size for a in arrays.values())
        R = sum(float(np.sum(np.abs(a).astype(np.float64) ** nus[k])) for k, a in arrays.items()) / N
        self.rule._record(len(self.rule.history), nus, R)
        return ws, nus, N

    def loss(self, module: nn.Module) -> torch.Tensor:
        """lam * (1/N) sum (|w| + eps)^nu: add it to the training loss (nu re-estimated now, held
        constant for the gradient, which is the NumPy form's lam * dR/dw)."""
        ws, nus, N = self._prepare(module)
        return self.lam * sum(((p.abs() + self.eps) ** nus[k]).sum() for k, p in ws) / N

    @torch.no_grad()
    def step(self, module: nn.Module) -> None:
        """Decoupled form: w <- w - lam * (nu / N) * sign(w) * (|w| + eps)^(nu - 1)."""
        ws, nus, N = self._prepare(module)
        for k, p in ws:
            nu = nus[k]
            p -= self.lam * (nu / N) * torch.sign(p) * (p.abs() + self.eps) ** (nu - 1)

    def attach(self, optimizer: torch.optim.Optimizer, module: nn.Module):
        """Run the decoupled step after every optimizer.step(); returns the hook handle."""
        return optimizer.register_step_post_hook(lambda opt, args, kwargs: self.step(module))
