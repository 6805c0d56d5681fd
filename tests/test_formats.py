"""The code tables: every code of every format means what its specification says."""
import math

import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.reports import docgen

# m(T, D) straight from the RF8 v1 specification
SPEC_M = {(0, 0): 1.5, (0, 1): 1.25, (0, 2): 1.125, (0, 3): 1.0625,
          (1, 0): 1.0, (1, 1): 0.75, (1, 2): 0.875, (1, 3): 0.9375}
ALL = np.arange(256, dtype=np.uint8)


def test_formats_listed():
    names = rl.format_names()
    assert names[:6] == ("rf8", "e4m3", "e5m2", "e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz")
    assert {"e2m1", "e2m3", "e3m2", "e3m4", "e4m3-ieee", "e5m3fnu", "int8", "int4", "int2", "uint4", "uint2",
            "mxfp8", "mxfp8-e5m2", "mxfp6", "mxfp6-e3m2", "mxfp4", "mxint8", "mxrf8"} <= set(names)
    p3109 = [n for n in names if n.startswith("binary8p")]
    assert len(p3109) == 28 and len(set(names)) == len(names)  # p1..p7, signed/unsigned, extended/finite
    assert rl.format_info("float8_e4m3fn") is rl.format_info("e4m3")  # ml_dtypes' names are aliases


def test_rf8_every_code_decodes_as_specified():
    vt = rl.value_table("rf8")
    assert vt.dtype == np.float64 and vt.shape == (256,)
    assert vt[0] == 0 and not math.copysign(1, vt[0]) < 0
    assert math.isnan(vt[0x80])
    for c in range(256):
        if c in (0x00, 0x80):
            continue
        s, e, t, d = c >> 7, (c >> 3) & 15, (c >> 2) & 1, c & 3
        assert vt[c] == (-1) ** s * SPEC_M[(t, d)] * 2.0 ** (e - 15), hex(c)
    # decoding raw codes gives the same table
    np.testing.assert_array_equal(rl.decode(ALL, fmt="rf8", dtype=np.float64), vt)


def test_rf8_magnitudes_and_window():
    vt = rl.value_table("rf8")
    pos = {v for v in vt if v > 0}
    neg = {-v for v in vt if v < 0}
    assert len(pos) == 113 and pos == neg
    assert min(pos) == 0.75 * 2 ** -15 and max(pos) == 1.5
    # 7 distinct magnitudes per octave [2^k, 2^(k+1)) in the interior
    octave = sorted(v / 0.25 for v in pos if 0.25 <= v < 0.5)
    assert octave == [1, 1.0625, 1.125, 1.25, 1.5, 1.75, 1.875]


@pytest.mark.parametrize("name,mdt", [("e4m3", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2),
                                      ("e4m3fnuz", ml_dtypes.float8_e4m3fnuz),
                                      ("e5m2fnuz", ml_dtypes.float8_e5m2fnuz), ("mxfp8", ml_dtypes.float8_e4m3fn)])
def test_fp8_tables_equal_ml_dtypes(name, mdt):
    ours = rl.value_table(name)
    theirs = ALL.view(mdt).astype(np.float64)
    np.testing.assert_array_equal(ours, theirs)  # NaN positions included
    num = ~np.isnan(theirs)  # a NaN's sign is no part of ml_dtypes' contract; -0.0's is
    np.testing.assert_array_equal(np.signbit(ours[num]), np.signbit(theirs[num]))


def test_int8_table_is_twos_complement():
    np.testing.assert_array_equal(rl.value_table("int8"), ALL.view(np.int8).astype(np.float64))


def test_format_facts():
    e4 = rl.format_info("e4m3")
    assert e4.max == 448 and e4.min_positive == 2.0 ** -9 and e4.next_up == 480
    assert rl.format_info("e5m2").max == 57344 and rl.format_info("e5m2").next_up == 65536
    assert rl.format_info("e4m3fnuz").max == 240 and rl.format_info("rf8").next_up == 1.75
    assert rl.format_info("int8").max == 127


@pytest.mark.parametrize("fmt", rl.format_names())
def test_canonical_round_trip(fmt):
    """encode(decode(code)) == code for every canonical code; RF8's twins map to (E+1).1.01."""
    f = rl.format_info(fmt)
    vt = rl.value_table(fmt)[:f.codes]
    overflow = "ovf-inf" if f.has_inf and "ovf-inf" in f.overflows else "sat-finite"
    ok = ~np.isnan(vt)
    if f.scale_rule == "absmax" and f.signed or f.name == "mxint8":
        ok[1 << (f.bits - 1)] = False  # two's complement's most negative code is outside the symmetric range
    if f.has_inf and overflow != "ovf-inf":
        ok &= np.isfinite(vt)  # a block format saturates
    top = float(f.max)
    if f.scale_rule == "log" and f.block_format is not None:  # RF8's rule gives X = 0 up to sqrt 2 only
        ok &= np.abs(vt) < 2 ** 0.5
        top = 1.0
    x = vt[ok]
    if f.block_format is not None:  # X = 0 for every code: each value shares its block with the largest value
        rows = np.zeros((x.size, f.default_block))
        rows[:, 0], rows[:, 1] = x, top
        codes = rl.encode(rows, fmt).codes[:, 0]
    else:
        codes = rl.encode(x, fmt, scale=None, overflow=overflow).codes
    expected = ALL[:f.codes][ok].copy()
    if fmt in ("rf8", "mxrf8"):
        s, e, t, d = expected >> 7, (expected >> 3) & 15, (expected >> 2) & 1, expected & 3
        twin = (t == 0) & (d == 0) & (e >= 1) & (e <= 14)
        expected[twin] = (s[twin] << 7) | ((e[twin] + 1) << 3) | 0b101
    np.testing.assert_array_equal(codes, expected)


def test_docs_tables_are_generated_from_the_code():
    text = docgen.DOC.read_text()
    assert docgen.BEGIN in text and docgen.END in text
    assert docgen.render(text) == text, "docs/rf8-format.md is stale: run `python -m rf8lab.reports.docgen`"
    listed = docgen.FORMATS_DOC.read_text()
    assert docgen.render(listed, docgen.formats_table) == listed, \
        "docs/formats.md is stale: run `python -m rf8lab.reports.docgen`"
    for name in rl.format_names():
        assert f"| {name} |" in listed
    for c in (0x05, 0x0D, 0x78):
        assert f"| 0x{c:02X} |" in text


def test_mxfp8_is_e4m3_elements_with_an_e8m0_block_scale():
    from rf8lab.formats import E8M0, MXFP8, get_format

    mx, e4 = get_format("mxfp8"), get_format("e4m3")
    assert mx.block_format is MXFP8 and MXFP8.element is e4 and MXFP8.scale_format is E8M0 and MXFP8.block == 32
    assert np.array_equal(mx.values, e4.values, equal_nan=True)
    assert mx.magnitudes == e4.magnitudes and mx.nan_codes == e4.nan_codes
    assert mx.scales == ("block",) and mx.default_block == 32 and (E8M0.emin, E8M0.emax) == (-127, 127)
    # the scale exponent is clamped to E8M0's range: a block of huge values gets X = 127, not more
    enc = rl.encode(np.full(32, 2.0 ** 300), "mxfp8")
    assert int(enc.scale_exp.max()) == 127


def test_the_format_list(capsys):
    """rl.formats() and `rf8lab table` list every format with its storage and its source."""
    from rf8lab.cli import main as cli

    t = rl.formats()
    assert list(t.index) == list(rl.format_names())
    assert t.loc["mxfp8", "bits_per_value"] == 8.25 and t.loc["mxfp6", "bits_per_value"] == 6.25
    assert t.loc["mxfp4", "bits_per_value"] == 4.25 and t.loc["nvfp4", "bits_per_value"] == 4.5
    assert t.loc["e2m1", "bits"] == 4 and not t.loc["e5m3fnu", "signed"] and t.loc["binary8p3se", "inf"]
    assert (t["source"].str.len() > 0).all()
    assert cli(["table"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in rl.format_names())
    assert cli(["table", "float4_e2m1fn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 17 and lines[-1] == "0xF -6.0"
