"""rf8lab.torch.torchao: RF8WeightOnlyConfig under torchao.quantization.quantize_ gives layers whose output is
F.linear of the decoded codes, exactly as QuantLinear's; state dicts round-trip through
torch.load(weights_only=True)."""
import io

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchao")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torchao.quantization import quantize_  # noqa: E402

from rf8lab import torch as rt  # noqa: E402
from rf8lab.torch.torchao import RF8WeightOnlyConfig, RF8WeightTensor  # noqa: E402

SPECS = ["rf8", "rf8:log:none", "rf8:block", "e4m3", "e5m2:tensor", "int8", "int4", "mxfp8", "nvfp4",
         "e2m1:stochastic:sr_bits=8"]


def _model(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 48), nn.GELU(), nn.Linear(48, 16, bias=False)).to(dtype)


@pytest.mark.parametrize("fmt", SPECS)
def test_quantize_gives_linear_of_the_decoded_codes(fmt):
    model = _model()
    weights = [model[0].weight.detach().clone(), model[2].weight.detach().clone()]
    config = RF8WeightOnlyConfig(fmt, seed=5)
    quantize_(model, config)
    x = torch.randn(3, 7, 64)
    h = x
    for layer, w in zip((model[0], model[2]), weights):
        assert isinstance(layer.weight, RF8WeightTensor) and not layer.weight.requires_grad
        enc = rt.encode(w, config.spec, rng=5 if config.spec.rounding.stochastic else None)
        assert torch.equal(layer.weight.codes, enc.codes)  # the codes of rf8lab.torch.encode, bit for bit
        assert torch.equal(layer.weight.dequantize(), rt.decode(enc))
        h = F.linear(h, rt.decode(enc), layer.bias)
        if layer is model[0]:
            h = F.gelu(h)
    assert torch.equal(model(x), h)


def test_output_equals_quantlinear():
    model, twin = _model(), _model()
    quantize_(model, RF8WeightOnlyConfig("rf8"))
    rt.convert(twin, "rf8")
    x = torch.randn(9, 64)
    assert torch.equal(model(x), twin(x))


def test_default_scale_is_per_output_channel_and_the_spec_is_kept():
    model = _model()
    quantize_(model, RF8WeightOnlyConfig("e4m3"))
    w = model[0].weight
    assert w.spec_key == "e4m3:nearest:channel" and w.scale_exp.shape == (48,)
    assert "e4m3:nearest:channel" in repr(w)
    with pytest.raises(ValueError, match="quantized already"):
        quantize_(model, RF8WeightOnlyConfig("rf8"))


def test_filter_fn_selects_layers():
    model = _model()
    quantize_(model, RF8WeightOnlyConfig("rf8"), filter_fn=lambda m, name: isinstance(m, nn.Linear) and name == "2")
    assert type(model[0].weight) is nn.Parameter and not isinstance(model[0].weight, RF8WeightTensor)
    assert isinstance(model[2].weight, RF8WeightTensor)


@pytest.mark.parametrize("fmt", ["rf8", "int8", "nvfp4"])
def test_state_dict_round_trips_with_weights_only(fmt):
    model = _model()
    quantize_(model, RF8WeightOnlyConfig(fmt))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert isinstance(state["0.weight"], RF8WeightTensor)
    fresh = _model(seed=1)
    quantize_(fresh, RF8WeightOnlyConfig(fmt))
    fresh.load_state_dict(state, assign=True)
    x = torch.randn(4, 64)
    assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models(dtype):
    model = _model(dtype)
    w = model[0].weight.detach().clone()
    quantize_(model, RF8WeightOnlyConfig("rf8"))
    assert model[0].weight.dtype == dtype
    x = torch.randn(2, 64, dtype=dtype)
    want = F.linear(x, rt.decode(rt.encode(w, rt.weight_spec("rf8")), dtype), model[0].bias)
    assert torch.equal(F.linear(x, model[0].weight, model[0].bias), want)


def test_to_dtype_changes_what_it_dequantizes_to():
    model = _model()
    quantize_(model, RF8WeightOnlyConfig("rf8"))
    codes = model[0].weight.codes.clone()
    model.to(torch.bfloat16)
    assert model[0].weight.dtype == torch.bfloat16 and torch.equal(model[0].weight.codes, codes)
    assert model(torch.randn(2, 64, dtype=torch.bfloat16)).dtype == torch.bfloat16


@pytest.mark.parametrize("kw,word", [({"fmt": "rf9"}, "rf9"), ({"fmt": "rf8", "rounding": "upward"}, "upward"),
                                     ({"fmt": "rf8", "scale": "row"}, "row"),
                                     ({"fmt": "rf8", "scale": "block", "block": 0}, "block")])
def test_bad_config_is_refused_when_made(kw, word):
    with pytest.raises(ValueError, match=word):
        RF8WeightOnlyConfig(**kw)


def test_mismatched_parts_are_refused():
    model = _model()
    quantize_(model, RF8WeightOnlyConfig("rf8"))
    w = model[0].weight
    with pytest.raises(ValueError, match="scale_exp"):
        RF8WeightTensor(w.codes, w.multiplier, "rf8:nearest:channel", torch.float32, w.scale_exp[:5])
    with pytest.raises(ValueError, match="scale_exp"):
        RF8WeightTensor(w.codes, w.multiplier[:1].reshape(()), "rf8:nearest:tensor", torch.float32,
                        w.scale_exp)


def test_whole_model_pickles_and_copies():
    """torch.save of the whole module and copy.deepcopy work (nothing unpicklable is attached to the layers)."""
    import copy

    model = _model()
    quantize_(model, RF8WeightOnlyConfig("rf8"))
    twin = copy.deepcopy(model)
    x = torch.randn(3, 64)
    assert torch.equal(twin(x), model(x))
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), model(x))
