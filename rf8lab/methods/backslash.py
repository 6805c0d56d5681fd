"""BackSlash (Wu, Wen, Han, ICML 2025): rate-constrained training, J = D + lambda * R with the GG rate
term R = (1/N) * sum |w|^nu, nu re-estimated from the weights every step.

Two forms (arXiv:2504.16968; the decoupled one is the authors' released code, linked from the GG-prior
project page, huggingface.co/spaces/shifeng3711/gg_prior):
- "loss": lambda * dR/dw is added to the gradients before clipping and AdamW, so it goes through the
  optimizer (and is rescaled by Adam's per-weight normalization like any other gradient);
- "decoupled" (the authors' code): after each optimizer step,
  w <- w - (lambda * nu / N) * sign(w) * (|w| + eps)^(nu - 1), untouched by Adam and the learning rate.

dR/dw = (nu / N) * sign(w) * (|w| + eps)^(nu - 1); the soft clip eps keeps it finite at w = 0 for
nu < 1. Weights are the 2-D parameters (matrices and embeddings) unless `include` says otherwise;
nu is pooled over all of them or estimated per tensor, by the moment ratio (fast) or the MLE.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..gg import fit as gg_fit
from ..gg import shape_from_moment_ratio
from ..nn.model import weight_names


def estimate_shape(x: np.ndarray, method: str = "moments") -> float:
    """GG shape of values at loc 0: moment ratio E[x^2] / E|x|^2 inverted, or the MLE."""
    if method == "moments":
        a = np.abs(x, dtype=np.float64)
        m1 = a.mean()
        return float(shape_from_moment_ratio(np.mean(a * a) / (m1 * m1)))
    if method == "mle":
        return float(gg_fit(x).shape)
    raise ValueError(f"shape method must be 'moments' or 'mle', got {method!r}")


@dataclass
class BackSlash:
    lam: float
    eps: float = 1e-3
    form: str = "loss"  # "loss" or "decoupled"
    pooled: bool = True  # one nu for all weights (the authors' code), or one per tensor
    method: str = "moments"
    until: int | None = None  # active for steps < until (then ordinary fine-tuning); None: always
    include: str = "2d"  # "2d": matrices and embeddings; "all": every parameter
    history: list = field(default_factory=list)  # (step, nu or {name: nu}, R)

    def __post_init__(self):
        if self.form not in ("loss", "decoupled"):
            raise ValueError(f"BackSlash form must be 'loss' or 'decoupled', got {self.form!r}")
        if not self.lam >= 0:
            raise ValueError(f"lambda must be >= 0, got {self.lam!r}")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {self.eps!r}")
        if self.include not in ("2d", "all"):
            raise ValueError(f"include must be '2d' or 'all', got {self.include!r}")
        estimate_shape(np.array([1.0, -2.0, 0.5]), self.method)  # validates method

    def names(self, params: dict) -> list[str]:
        return weight_names(params, self.include)

    def shapes(self, params: dict) -> dict:
        names = self.names(params)
        if self.pooled:
            nu = estimate_shape(np.concatenate([params[k].ravel() for k in names]), self.method)
            return {k: nu for k in names}
        return {k: estimate_shape(params[k], self.method) for k in names}

    def rate_and_grads(self, params: dict) -> tuple[float, dict, dict]:
        """R = (1/N) sum |w|^nu, dR/dw for each weight, and the shapes used."""
        nus = self.shapes(params)
        N = sum(params[k].size for k in nus)
        R, grads = 0.0, {}
        for k, nu in nus.items():
            w = params[k]
            a = np.abs(w)
            R += float(np.sum(a.astype(np.float64) ** nu))
            grads[k] = (nu / N) * np.sign(w) * (a + self.eps) ** (nu - 1)
        return R / N, grads, nus

    def active(self, step: int) -> bool:
        return self.lam > 0 and (self.until is None or step < self.until)

    def _record(self, step, nus, R):
        vals = list(nus.values())
        self.history.append({"step": step, "nu": vals[0] if self.pooled else float(np.median(vals)),
                             "rate": R, **({} if self.pooled else {"nu_per_tensor": nus})})

    # hooks for rf8lab.nn.train.train
    def on_grads(self, step: int, params: dict, grads: dict) -> None:
        if self.form != "loss" or not self.active(step):
            return
        R, g, nus = self.rate_and_grads(params)
        for k, gk in g.items():
            grads[k] += (self.lam * gk).astype(grads[k].dtype)
        self._record(step, nus, R)

    def on_step(self, step: int, params: dict) -> None:
        if self.form != "decoupled" or not self.active(step):
            return
        R, g, nus = self.rate_and_grads(params)
        for k, gk in g.items():
            params[k] -= (self.lam * gk).astype(params[k].dtype)
        self._record(step, nus, R)
