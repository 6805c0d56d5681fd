"""rf8lab's 8-bit weights as a torchao workflow: `quantize_(model, RF8WeightOnlyConfig("rf8"))`.

    from torchao.quantization import quantize_
    from rf8lab.torch.torchao import RF8WeightOnlyConfig

    quantize_(model, RF8WeightOnlyConfig("rf8", scale="channel"))            # every nn.Linear's weight
    quantize_(model, RF8WeightOnlyConfig("e4m3"), filter_fn=lambda m, name: ...)  # torchao's filter
    torch.save(model.state_dict(), "m.pt")
    model2 = ...; quantize_(model2, RF8WeightOnlyConfig("rf8", scale="channel"))
    model2.load_state_dict(torch.load("m.pt", weights_only=True), assign=True)

Each selected layer's weight becomes an `RF8WeightTensor`: a torchao tensor subclass (TorchAOBaseTensor)
holding the uint8 codes, the scale exponents and multipliers of `rf8lab.torch.encode`, and the spec's
text form. `F.linear` on it runs `packed_linear` (rf8lab/torch/modules.py), the same path as QuantLinear:
the Triton W8A16 kernel on CUDA, the decoded weight (decode per call) elsewhere. Any rf8lab format,
rounding, overflow and scale (None, tensor, channel, block) works; `tensor.dequantize()` gives the weight.

The class is registered with torch.serialization's safe globals, so a state dict holding these tensors
loads with `torch.load(weights_only=True)`; its attributes are plain tensors, a string and a dtype.
Stochastic rounding draws every layer's bits from the config's one seed (element index within the layer).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..codec.api import resolve
from ..codec.encoded import Encoded
from ..codec.spec import QuantSpec, weight_spec
from ..optional import require

require("torchao", "rf8lab.torch.torchao")
from torchao.core.config import AOBaseConfig  # noqa: E402 (after the guard)
from torchao.quantization.transform_module import register_quantize_module_handler  # noqa: E402
from torchao.utils import TorchAOBaseTensor  # noqa: E402

from .codec import decode, encode  # noqa: E402
from .modules import packed_linear  # noqa: E402

__all__ = ["RF8WeightOnlyConfig", "RF8WeightTensor"]
aten = torch.ops.aten


@dataclass
class RF8WeightOnlyConfig(AOBaseConfig):
    """Weight-only quantization of linear layers to any rf8lab format (W8A16: activations stay as they are).

    fmt: a format name or spec text ("rf8", "e4m3", "rf8:log:none", "mxfp8", ...); the other fields, where
    given, replace the spec's, as in `rf8lab.torch.encode`. With no scale named, weights get per output
    channel scales where the format has them (`rf8lab.weight_spec`), as `rf8lab.torch.convert` does.
    Stochastic rounding draws from `seed` (the same seed gives the same codes on every device).
    """
    fmt: str = "rf8"
    rounding: str | None = None
    scale: str | None = "auto"
    overflow: str | None = None
    block: int | None = None
    sr_bits: int | None = None
    seed: int = 0

    def __post_init__(self):
        _ = self.spec  # a bad setting is refused when the config is made, naming what is accepted

    @property
    def spec(self) -> QuantSpec:
        quant = {k: v for k, v in (("rounding", self.rounding), ("overflow", self.overflow), ("block", self.block),
                                   ("sr_bits", self.sr_bits)) if v is not None}
        return weight_spec(self.fmt, scale=self.scale, **quant)


class RF8WeightTensor(TorchAOBaseTensor):
    """A weight held as rf8lab codes: `codes` (uint8, the weight's shape), `multiplier` (float64 per scale
    group), `scale_exp` (int32 per group; None for the integer formats), `spec_key` (QuantSpec text) and
    `dtype` (what it dequantizes to: the weight's dtype)."""

    tensor_data_names = ["codes", "multiplier"]
    tensor_attribute_names = ["spec_key", "dtype"]
    optional_tensor_data_names = ["scale_exp"]

    def __new__(cls, codes, multiplier, spec_key, dtype, scale_exp=None):
        return torch.Tensor._make_wrapper_subclass(cls, codes.shape, dtype=dtype, device=codes.device,
                                                   requires_grad=False)

    def __init__(self, codes, multiplier, spec_key, dtype, scale_exp=None):
        super().__init__()
        self.codes, self.multiplier, self.spec_key, self.scale_exp = codes, multiplier, spec_key, scale_exp
        self.encoded()  # checks codes, scales and spec against each other when made

    @classmethod
    def from_hp(cls, weight: torch.Tensor, spec: QuantSpec, seed: int = 0) -> RF8WeightTensor:
        """Encode a float weight (any shape, float16/bfloat16/float32/float64) with `spec`."""
        enc = encode(weight.detach(), spec, rng=seed if spec.rounding.stochastic else None)
        return cls(enc.codes, enc.multiplier, spec.key, weight.dtype, enc.scale_exp)

    def encoded(self) -> Encoded:
        """The same codes as an rf8lab Encoded (what rf8lab.torch.decode and the W8A16 kernel read); made and
        checked once per set of parts (a state dict loaded into this tensor is checked at its first use)."""
        parts = (self.codes, self.scale_exp, self.multiplier, self.spec_key, self.dtype)
        made = self.__dict__.get("_encoded")
        if made is None or any(a is not b for a, b in zip(made[0], parts)):
            spec = QuantSpec.parse(self.spec_key)
            layout = resolve(spec, self.codes.shape)[1]
            made = (parts, Encoded(self.codes, self.scale_exp, self.multiplier, spec, layout, self.dtype))
            self.__dict__["_encoded"] = made
        return made[1]

    def __getstate__(self):  # the cached Encoded is not part of what is saved
        return {k: v for k, v in self.__dict__.items() if k != "_encoded"}

    def dequantize(self, output_dtype: torch.dtype | None = None) -> torch.Tensor:
        return decode(self.encoded(), output_dtype or self.dtype)

    def __repr__(self):
        return (f"RF8WeightTensor({self.spec_key!r}, shape={tuple(self.shape)}, dtype={self.dtype}, "
                f"device={self.device})")


implements = RF8WeightTensor.implements


@RF8WeightTensor.implements_torch_function(torch.nn.functional.linear)
def _linear(func, types, args, kwargs):  # F.linear only: x @ w.T and aten-level calls are not implemented
    x, weight = args[0], args[1]
    bias = args[2] if len(args) > 2 else (kwargs or {}).get("bias")
    return packed_linear(x, weight.encoded(), bias)


@implements(aten._to_copy.default)
def _to_copy(func, types, args, kwargs):
    """`.to(device)` moves the codes and scales; `.to(dtype)` changes what the weight dequantizes to."""
    self = args[0]
    to = self._get_to_kwargs(*args[1:], **(kwargs or {}))
    move = [None if t is None else t.to(to["device"], non_blocking=to["non_blocking"])
            for t in (self.codes, self.multiplier, self.scale_exp)]
    return RF8WeightTensor(move[0], move[1], self.spec_key, to["dtype"], move[2])


@register_quantize_module_handler(RF8WeightOnlyConfig)
def _transform(module: torch.nn.Module, config: RF8WeightOnlyConfig, *, parameter_name: str = "weight"):
    weight = getattr(module, parameter_name, None)
    if isinstance(weight, RF8WeightTensor):
        raise ValueError(f"{type(module).__name__}.{parameter_name} is quantized already ({weight.spec_key!r}); "
                         "quantize_ a model once, from its float weights")
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise ValueError(f"RF8WeightOnlyConfig quantizes a module's floating-point {parameter_name!r}; "
                         f"{type(module).__name__} has {type(weight).__name__}")
    packed = RF8WeightTensor.from_hp(weight, config.spec.for_shape(weight.shape), config.seed)
    setattr(module, parameter_name, torch.nn.Parameter(packed, requires_grad=False))
    return module


torch.serialization.add_safe_globals([RF8WeightTensor])
