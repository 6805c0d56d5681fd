"""Bad input, class 5: arguments and commands. Every bad argument is a ValueError or TypeError that names it;
every command exits 1 with one `error: ...` line."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rf8lab as rl
from rf8lab import gg
from rf8lab.cli import main as cli
from rf8lab.io import safetensors

bad_values = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                       st.text(max_size=6), st.just(np.ones(3)), st.just([1, 2]), st.just(object()))
ARGS = ("rounding", "scale", "overflow", "axis", "block", "rng")


@settings(max_examples=75, deadline=None)  # each new format and mode compiles kernels: 75 keep it near 25 s
@given(fmt=st.sampled_from(rl.format_names()), name=st.sampled_from(ARGS), value=bad_values,
       scale=st.sampled_from(["auto", "channel", "block"]))
def test_any_argument_value_works_or_names_itself(fmt, name, value, scale):
    x = np.random.default_rng(0).normal(0, 0.02, (4, 64)).astype(np.float32)
    kw = {"scale": scale, name: value}
    if name == "rng":
        kw["rounding"] = "stochastic"
    try:
        q = rl.quantize(x, fmt, **kw)
    except (ValueError, TypeError) as e:
        assert name in str(e) or "scale" in str(e) or "not available" in str(e), str(e)
        return
    assert q.shape == x.shape and np.isfinite(q).all()


def test_gg_fit_takes_what_weights_come_as():
    x = gg.gg(1.2, 1.0).rvs(20000, random_state=0)
    ref = gg.fit(x)
    assert gg.fit(x.astype(">f8")).shape == ref.shape  # big-endian
    far = gg.fit(x * 2.0 ** 900)  # near float64's limits: fitted as x * 2^-k, then scaled back
    assert far.shape == pytest.approx(ref.shape, rel=1e-12) and far.scale == pytest.approx(ref.scale * 2.0 ** 900)
    assert far.loglik == pytest.approx(ref.loglik - ref.n * 900 * np.log(2.0), rel=1e-12)
    assert np.isfinite(gg.fit(x * 1e-300).shape)
    for bad, match in ((np.zeros(0), "empty array"), (np.zeros((0, 5)), "empty array"),
                       (np.ones((4, 16)), "axis must be an integer")):
        with pytest.raises(ValueError, match=match):
            gg.fit(bad, axis=1.5 if bad.size else None)


def test_commands_print_one_error_line(tmp_path, capsys):
    zeros, bias = tmp_path / "z.safetensors", tmp_path / "b.safetensors"
    safetensors.write(zeros, {"w": np.zeros((4, 4), np.float32)})
    safetensors.write(bias, {"b": np.ones(4, np.float32)})
    cases = [["fit", str(zeros), "-o", str(tmp_path / "f")], ["fit", str(tmp_path / "missing.safetensors")],
             ["fit", str(tmp_path), "-o", str(tmp_path / "f")], ["pack", str(bias), "-o", str(tmp_path / "p")],
             ["compare", str(tmp_path / "missing.npz")], ["table", "e9m9"],
             ["unpack", str(zeros), "-o", str(tmp_path / "u")]]
    for argv in cases:
        assert cli(argv) == 1, argv
        lines = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()  # after any progress bar
        assert lines[-1].startswith("error: ") and sum(x.startswith("error") for x in lines) == 1, (argv, lines)


def test_import_leaves_ml_dtypes_until_a_call_needs_it():
    """import rf8lab does not pay ml_dtypes' import (about a second); a bfloat16 output named by its string
    imports it then, and an ml_dtypes array is accepted as before."""
    import subprocess
    import sys
    code = ("import sys, numpy as np, rf8lab as rl; assert 'ml_dtypes' not in sys.modules; "
            "x = np.array([1.1, -3.0], np.float32); rl.quantize(x, 'e4m3', backend='vectorized'); "
            "assert 'ml_dtypes' not in sys.modules; "
            "y = rl.quantize(x, 'e4m3', dtype='bfloat16', backend='vectorized'); "
            "assert y.dtype.name == 'bfloat16' and 'ml_dtypes' in sys.modules; "
            "z = rl.quantize(y, 'e4m3', backend='vectorized'); print(z.tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[1.125,", "-3.0]"]
