"""The GG methods for torch modules, equal to the NumPy versions in rf8lab.nn on the same inputs.

- `gg_init_(module, shape, xi, fan, rng)`: rf8lab.nn.gg_init on the module's parameters, in the
  order of `named_parameters()` (so the same seed gives the same weights as the NumPy version on a
  dict with the same names and order).
- `BackSlash(lam, ...)`: `.loss(module)` is the differentiable rate term lam * (1/N) sum (|w| + eps)^nu
  to add to the loss (its gradient is exactly the NumPy form's); `.step(module)` is the decoupled
  update for after `optimizer.step()`, or `.attach(optimizer, module)` registers it as a step hook.
- `deepshape_(module, ...)`: rf8lab.nn.deepshape on the module's 2-D weights, written back.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..nn.backslash import estimate_shape
from ..nn.deepshape import deepshape
from ..nn.init import gg_init


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
    """In place DeepShape of the 2-D weights (kwargs as rf8lab.nn.deepshape); returns its info."""
    new, info = deepshape(_numpy_params(module), **kw)
    _write_back(module, new)
    return info


class BackSlash:
    def __init__(self, lam: float, eps: float = 1e-3, pooled: bool = True, method: str = "moments",
                 include: str = "2d"):
        self.lam, self.eps, self.pooled, self.method, self.include = lam, eps, pooled, method, include
        self.history: list = []

    def _weights(self, module):
        return [(k, p) for k, p in module.named_parameters() if self.include == "all" or p.dim() == 2]

    def shapes(self, module) -> dict:
        ws = self._weights(module)
        if self.pooled:
            nu = estimate_shape(np.concatenate([p.detach().cpu().numpy().ravel() for _, p in ws]), self.method)
            return {k: nu for k, _ in ws}
        return {k: estimate_shape(p.detach().cpu().numpy(), self.method) for k, p in ws}

    def loss(self, module: nn.Module) -> torch.Tensor:
        """lam * (1/N) sum (|w| + eps)^nu: add it to the training loss (nu re-estimated now, held
        constant for the gradient)."""
        ws = self._weights(module)
        nus = self.shapes(module)
        N = sum(p.numel() for _, p in ws)
        R = sum(((p.abs() + self.eps) ** nus[k]).sum() for k, p in ws) / N
        self.history.append({"nu": next(iter(nus.values())), "rate": float(R.detach())})
        return self.lam * R

    @torch.no_grad()
    def step(self, module: nn.Module) -> None:
        """Decoupled form: w <- w - lam * (nu / N) * sign(w) * (|w| + eps)^(nu - 1)."""
        ws = self._weights(module)
        nus = self.shapes(module)
        N = sum(p.numel() for _, p in ws)
        for k, p in ws:
            nu = nus[k]
            p -= self.lam * (nu / N) * torch.sign(p) * (p.abs() + self.eps) ** (nu - 1)
        self.history.append({"nu": next(iter(nus.values()))})

    def attach(self, optimizer: torch.optim.Optimizer, module: nn.Module):
        """Run the decoupled step after every optimizer.step(); returns the hook handle."""
        return optimizer.register_step_post_hook(lambda opt, args, kwargs: self.step(module))
