"""Bad input, class 2: an Encoded that decode could misread is refused when it is made, in numpy and torch."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rf8lab as rl

FIELDS = ("codes", "scale_exp", "multiplier")


def _encoded(fmt="rf8", scale="channel"):
    return rl.encode(np.random.default_rng(0).normal(0, 0.02, (6, 64)).astype(np.float32), fmt, scale=scale)


@settings(max_examples=80, deadline=None)
@given(field=st.sampled_from(FIELDS), rows=st.integers(0, 8), cols=st.integers(0, 70),
       dtype=st.sampled_from(["uint8", "int8", "int16", "int32", "int64", "float32", "float64", "uint16"]))
def test_wrong_shapes_and_dtypes_are_refused(field, rows, cols, dtype):
    enc = _encoded()
    good = getattr(enc, field)
    bad = np.zeros((rows, cols) if field == "codes" else (rows,), dtype)
    acceptable = bad.shape == good.shape and (dtype == str(good.dtype) or (field == "scale_exp" and dtype == "int64"))
    if acceptable:
        dataclasses.replace(enc, **{field: bad})
    else:
        with pytest.raises((TypeError, ValueError), match=f"Encoded.{field}"):
            dataclasses.replace(enc, **{field: bad})


def test_int8_has_no_scale_exponents_and_the_others_need_them():
    enc, enc8 = _encoded(), _encoded("int8")
    with pytest.raises(ValueError, match="scale_exp must be None for int8"):
        dataclasses.replace(enc8, scale_exp=np.zeros(6, np.int32))
    with pytest.raises(ValueError, match="scale_exp must be an integer array for rf8"):
        dataclasses.replace(enc, scale_exp=None)
    with pytest.raises(TypeError, match="must be a numpy array or a torch tensor"):
        dataclasses.replace(enc, codes=enc.codes.tolist())
    with pytest.raises(ValueError, match="names 'channel'"):
        dataclasses.replace(enc, layout=_encoded(scale="block").layout)
    with pytest.raises(TypeError, match="spec must be a QuantSpec"):
        dataclasses.replace(enc, spec="rf8")


def test_torch_containers_are_checked_too():
    torch = pytest.importorskip("torch")
    from rf8lab import torch as rt

    enc = rt.encode(torch.randn(6, 64), "rf8", scale="channel")
    with pytest.raises(ValueError, match="Encoded.codes has shape"):
        dataclasses.replace(enc, codes=enc.codes[:3])
    with pytest.raises(TypeError, match="Encoded.codes must be uint8"):
        dataclasses.replace(enc, codes=enc.codes.to(torch.int32))
    with pytest.raises(TypeError, match="is a numpy array but the codes are torch"):
        dataclasses.replace(enc, multiplier=enc.multiplier.numpy())
