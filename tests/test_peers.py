"""rf8lab's formats against the peers, on what the peers guarantee.

- ml_dtypes: every format with an ml_dtypes type equals its cast bit for bit (round to nearest even,
  ml_dtypes' overflow policy: inf where the type has it, NaN where it has only NaN, saturation where it
  has neither) on all 2^16 float16 and bfloat16 patterns and on 2^24 float32 patterns (every exponent,
  random low bits). NaN is compared as NaN (ml_dtypes does not promise which NaN code). Integer types:
  ml_dtypes casts truncate (C semantics), so they are checked against toward-zero rounding on the inputs
  both define (|x| below 2^(bits-1), or in [0, 2^bits) unsigned).
- gfloat: P3109's binary8 formats against round_ndarray and encode_ndarray, nearest-even saturating and
  not, on all float16 patterns; every rounding gfloat offers on a few of them (the whole product is
  analysis/verify_peers.py, with its result in docs/verification.md).
Types and modes a peer's installed version lacks are skipped, so this passes on every version allowed.
"""
from __future__ import annotations

import numpy as np
import pytest

import rf8lab as rl
from rf8lab.formats import ML_DTYPES_TYPES, get_format

ml_dtypes = pytest.importorskip("ml_dtypes")


def _all16(dtype) -> np.ndarray:
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


def _float32_patterns() -> np.ndarray:
    rng = np.random.default_rng(15)
    hi = np.arange(1 << 24, dtype=np.uint32) << np.uint32(8)
    low = rng.integers(0, 256, hi.size, dtype=np.uint32)
    low[::2] = 0  # half the patterns end in zeros: the exact values and ties
    return (hi | low).view(np.float32)


def _ml_policy(fmt) -> str:
    if fmt.has_inf:
        return "ovf-inf"
    return "nan" if fmt.has_nan else "sat-finite"


FLOAT_TYPES = [(n, t) for n, t in ML_DTYPES_TYPES.items() if t.startswith("float") and hasattr(ml_dtypes, t)]
INT_TYPES = [(n, t) for n, t in ML_DTYPES_TYPES.items() if not t.startswith("float") and hasattr(ml_dtypes, t)]


def _same(ours: np.ndarray, theirs: np.ndarray) -> None:
    nan = np.isnan(ours)
    np.testing.assert_array_equal(nan, np.isnan(theirs))
    np.testing.assert_array_equal(ours[~nan].view(np.uint64 if ours.dtype == np.float64 else np.uint32),
                                  theirs[~nan].view(np.uint64 if ours.dtype == np.float64 else np.uint32))


@pytest.mark.parametrize("name,typename", FLOAT_TYPES)
def test_floats_equal_ml_dtypes_on_16_bit_and_float32_patterns(name, typename):
    fmt = get_format(name)
    t = getattr(ml_dtypes, typename)
    inputs = [_all16(np.float16), _all16(ml_dtypes.bfloat16), _float32_patterns()]
    for x in inputs:
        if not fmt.has_nan:
            x = x[~np.isnan(x.astype(np.float32))]
        with np.errstate(invalid="ignore", over="ignore"):
            theirs = x.astype(t).astype(np.float32)
        ours = rl.quantize(x, name, scale=None, overflow=_ml_policy(fmt), dtype=np.float32)
        _same(ours, theirs)
        if x.dtype == np.float16:  # the codes too: ml_dtypes' bits are rf8lab's codes
            codes = rl.encode(x, name, scale=None, overflow=_ml_policy(fmt)).codes
            with np.errstate(invalid="ignore", over="ignore"):
                bits = x.astype(t).view(np.uint8) & np.uint8(fmt.codes - 1)
            finite = ~np.isnan(x)
            np.testing.assert_array_equal(codes[finite], bits[finite])


@pytest.mark.parametrize("name,typename", INT_TYPES)
def test_integers_equal_ml_dtypes_casts_where_both_define_them(name, typename):
    fmt = get_format(name)
    x = np.concatenate([_all16(np.float16).astype(np.float32), _float32_patterns()[::16]])
    top = float(fmt.max) + 1
    keep = np.isfinite(x) & (np.abs(x) < top) & ((x >= 0) | fmt.signed)
    x = x[keep]
    theirs = x.astype(getattr(ml_dtypes, typename)).astype(np.float32)
    ours = rl.quantize(x, name, scale=None, rounding="toward-zero", dtype=np.float32)
    np.testing.assert_array_equal(ours, theirs)


def test_e8m0_scale_codes_are_ml_dtypes_float8_e8m0fnu():
    if not hasattr(ml_dtypes, "float8_e8m0fnu"):
        pytest.skip("this ml_dtypes has no float8_e8m0fnu")
    from rf8lab.formats import E8M0
    X = np.arange(E8M0.emin, E8M0.emax + 1)
    codes = np.array([E8M0.code(int(x)) for x in X], np.uint8)
    np.testing.assert_array_equal(codes.view(ml_dtypes.float8_e8m0fnu).astype(np.float64), np.ldexp(1.0, X))


# ---- gfloat ----------------------------------------------------------------------------------------
def _gfloat_modes(gfloat):
    """rf8lab's rounding for each gfloat RoundMode the installed gfloat has."""
    names = {"TiesToEven": "nearest", "TiesToAway": "nearest-away", "TowardZero": "toward-zero",
             "TowardPositive": "toward-positive", "TowardNegative": "toward-negative",
             "Stochastic": "stochastic-even", "StochasticOdd": "stochastic-odd", "StochasticFast": "stochastic-fast",
             "StochasticFastest": "stochastic"}
    return {ours: getattr(gfloat.RoundMode, theirs) for theirs, ours in names.items()
            if hasattr(gfloat.RoundMode, theirs)}


def _gfloat_format(gfloat, fmt):
    """gfloat's FormatInfo of a binary8p{P}{s|u}{e|f} format."""
    from gfloat.formats import format_info_p3109
    from gfloat.types import Domain, Signedness
    p = int(fmt.name[len("binary8p"):-2])
    return format_info_p3109(8, p, Signedness.Signed if fmt.signed else Signedness.Unsigned,
                                            Domain.Extended if fmt.has_inf else Domain.Finite)


def check_against_gfloat(gfloat, fmt, rounding: str, sat: bool, x: np.ndarray, sr_bits: int = 4) -> None:
    """rf8lab's values and codes of x (float16 or bfloat16) equal gfloat's round_ndarray and encode_ndarray."""
    from gfloat import encode_ndarray, round_ndarray
    fi = _gfloat_format(gfloat, fmt)
    if not fmt.signed:
        x = x[~np.signbit(x.astype(np.float32)) | np.isnan(x.astype(np.float32))]
    overflow = "sat-finite" if sat else ("ovf-inf" if fmt.has_inf else "nan")
    mode = _gfloat_modes(gfloat)[rounding]
    kw, ours_kw = {}, {}
    if "stochastic" in rounding:
        bits = np.random.default_rng(3).integers(0, 2 ** sr_bits, x.shape).astype(np.uint32)
        kw = {"srbits": bits.astype(np.int64), "srnumbits": sr_bits}
        ours_kw = {"random_bits": bits, "sr_bits": sr_bits}
    theirs = round_ndarray(fi, x.astype(np.float64), mode, sat, **kw)
    ours = rl.quantize(x, fmt.name, scale=None, rounding=rounding, overflow=overflow, dtype=np.float64, **ours_kw)
    _same(ours, np.asarray(theirs, np.float64))
    codes = rl.encode(x, fmt.name, scale=None, rounding=rounding, overflow=overflow, **ours_kw).codes
    np.testing.assert_array_equal(codes, np.asarray(encode_ndarray(fi, theirs)).astype(np.uint8))


P3109 = [n for n in rl.format_names() if n.startswith("binary8p")]


@pytest.mark.parametrize("name", P3109)
def test_p3109_nearest_even_equals_gfloat_on_every_float16(name):
    gfloat = pytest.importorskip("gfloat")
    for sat in (True, False):
        check_against_gfloat(gfloat, get_format(name), "nearest", sat, _all16(np.float16))


@pytest.mark.parametrize("name", ["binary8p1se", "binary8p3uf", "binary8p4se", "binary8p7sf"])
def test_p3109_every_gfloat_rounding_on_every_float16(name):
    gfloat = pytest.importorskip("gfloat")
    for rounding in _gfloat_modes(gfloat):
        check_against_gfloat(gfloat, get_format(name), rounding, rounding == "toward-zero", _all16(np.float16))


# ---- the MX scale rule -------------------------------------------------------------------------------
MX = {"mxfp8": "float8_e4m3fn", "mxfp8-e5m2": "float8_e5m2", "mxfp6": "fp6_e2m3", "mxfp6-e3m2": "fp6_e3m2",
      "mxfp4": "float4_e2m1fn_x2", "mxint8": None}


def _mx_blocks() -> np.ndarray:
    """(64, 256) float32: blocks of 32 at magnitudes from 2^-140 to 2^120, with powers of two, exact
    ties and zero blocks."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 256)) * np.exp2(rng.integers(-140, 120, (64, 1)))
    x[0, :32] = 0.0
    x[1, :32] = np.exp2(np.arange(32) - 16.0)
    x[2, 32:64] = 448.0 * np.exp2(-5)
    return x.astype(np.float32)


@pytest.mark.parametrize("fmt", list(MX))
def test_mx_scale_and_elements_follow_the_ocp_definition(fmt):
    """OCP MX v1.0 section 6.3: X = floor(log2(max |V|)) - emax(element), clamped to E8M0's range; each
    element is V / 2^X converted to the element format (nearest even, saturating)."""
    f = rl.format_info(fmt)
    x = _mx_blocks()
    amax = np.abs(x.astype(np.float64)).reshape(64, 8, 32).max(axis=2)
    X = np.where(amax > 0, np.frexp(amax)[1] - 1 - f.emax, 0)
    X = np.clip(X, -127, 127)
    enc = rl.encode(x, fmt)
    np.testing.assert_array_equal(enc.scale_exp, X)
    scaled = x.astype(np.float64) / np.repeat(np.exp2(X), 32, axis=1)
    element = f.block_format.element
    if element.name in rl.format_names():
        want = rl.quantize(scaled, element.name, scale=None, dtype=np.float64)
    else:  # MXINT8's fixed-point element k/64, nearest even, saturating at 127/64
        want = np.clip(np.round(scaled * 64), -127, 127) / 64
    got = rl.quantize(x, fmt, dtype=np.float64) / np.repeat(np.exp2(X), 32, axis=1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fmt", [k for k, v in MX.items() if v])
def test_mx_equals_torchao_to_mx_where_its_scale_is_the_ocp_one(fmt):
    """torchao's to_mx (FLOOR, the OCP rule) and to_dtype: the same E8M0 codes and values, on float32
    blocks whose scale is at least 2^-126 (torchao divides by 2^-126 where the code says 2^-127) and that
    hold a nonzero value (an all-zero block's scale is nobody's contract: torchao gives 2^-127, rf8lab 1)."""
    torch = pytest.importorskip("torch")
    try:
        from torchao.prototype.mx_formats.mx_tensor import to_dtype, to_mx
    except Exception as e:  # torchao's import depends on its torch
        pytest.skip(f"torchao does not import here: {e}")
    import torchao.prototype.mx_formats.mx_tensor as mx

    elem = {"fp6_e2m3": mx.DTYPE_FP6_E2M3, "fp6_e3m2": mx.DTYPE_FP6_E3M2}.get(MX[fmt]) or getattr(torch, MX[fmt])
    x = _mx_blocks()
    scale, data = to_mx(torch.from_numpy(x), elem, 32)
    values = to_dtype(data, scale, elem, 32, torch.float32).numpy()
    enc = rl.encode(x, fmt)
    codes = scale.view(torch.uint8).numpy().reshape(64, 8)
    ok = (enc.scale_exp >= -126) & (np.abs(x).reshape(64, 8, 32).max(axis=2) > 0)
    np.testing.assert_array_equal(codes[ok], (enc.scale_exp + 127)[ok])
    ours = rl.quantize(x, fmt)
    keep = np.repeat(ok, 32, axis=1)
    np.testing.assert_array_equal(ours[keep].view(np.uint32), values[keep].view(np.uint32))
