"""Commands end to end: rf8lab compare and the demo's quick table (the others are tested with what they run)."""
import numpy as np

from rf8lab.cli import main as cli


def test_compare_cli(tmp_path, capsys):
    from rf8lab.io.safetensors import write as write_safetensors

    rng = np.random.default_rng(0)
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"layer.0.attention.self.query.weight": rng.normal(0, 0.02, (64, 64)).astype(np.float32),
                            "layer.0.output.dense.bias": rng.normal(0, 0.01, 64).astype(np.float32)})
    out = tmp_path / "cmp"
    assert cli(["compare", str(src), "--formats", "rf8:log:none,e4m3:tensor,int8:channel", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "layer.0.attention.self.query.weight" in text and (out / "report.md").exists()
    import pandas as pd

    df = pd.read_csv(out / "formats.csv")
    assert len(df) == 2 and df["e4m3 nearest, tensor SQNR dB"].between(30, 33).all()
    assert cli(["compare", str(src), "--formats", "rf8:sideways", "-o", str(out)]) == 1
    assert "is not a rounding" in capsys.readouterr().err


def test_demo_table(capsys):
    assert cli(["demo", "--table-only", "--n", "4096"]) == 0
    out = capsys.readouterr().out
    assert "rf8      log" in out and "mxfp8" in out


def test_errors_are_one_line_and_a_nonzero_status(tmp_path, capsys):
    assert cli(["fit"]) == 1
    assert capsys.readouterr().err.startswith("error: rf8lab fit needs a CHECKPOINT")
    assert cli(["fit", "--render", "-o", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot render")
    assert cli(["table", "fp7"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown format 'fp7'") and err.count("\n") == 1
