"""The cocotb testbench of the Verilog in this folder, run by rf8lab.hw.flow.simulate (not by pytest directly).
The simulator imports it as a top-level module, so it needs only cocotb and numpy: the expected outputs,
from the Python model (rf8lab.hw.model) and the codec, come in $RF8LAB_RTL_EXPECTED (an .npz that
flow.simulate writes), the design's kind in $RF8LAB_RTL_KIND, the sweep in $RF8LAB_RTL_SWEEP ("full":
every operand pair or input; "reduced": a seeded eighth)."""
from __future__ import annotations

import os

import numpy as np

try:
    import cocotb
    from cocotb.triggers import RisingEdge, Timer
except ImportError as e:  # not rf8lab.optional: the simulator imports this file alone, without rf8lab
    raise ImportError("the RTL testbench needs cocotb; install it with: pip install 'rf8lab[hw]'") from e

SETTLE = (1, "ns")


def _expected() -> dict:
    with np.load(os.environ["RF8LAB_RTL_EXPECTED"]) as z:
        return {k: z[k] for k in z.files}


def _pairs(n: int) -> np.ndarray:
    """Indices 0..n-1 of the inputs to drive: all, or a seeded eighth (always with the first and last)."""
    if os.environ.get("RF8LAB_RTL_SWEEP", "full") == "full":
        return np.arange(n)
    pick = np.random.default_rng(2026).permutation(n)[: n // 8]
    return np.unique(np.concatenate([[0, n - 1], pick]))


def _signed(value) -> int:
    return value.to_signed()


def _report(name: str, bad: list, checked: int) -> None:
    assert not bad, f"{name}: {len(bad)} of {checked} differ from the model, e.g. {bad[:5]}"


@cocotb.test()
async def against_the_model(dut):
    kind, want = os.environ["RF8LAB_RTL_KIND"], _expected()
    name = os.environ["RF8LAB_RTL_DESIGN"]
    if kind in ("mul", "mul_rf8"):
        await _products(dut, kind, name, want)
    elif kind == "decode":
        await _decode(dut, want)
    elif kind == "encode":
        await _encode(dut, want)
    else:
        await _mac(dut, name, want)


async def _products(dut, kind, name, want):
    p, nan = want["p"], want["nan"]
    second = dut.w2 if kind == "mul_rf8" else dut.a
    first = dut.w1 if kind == "mul_rf8" else dut.w
    bad = []
    idx = _pairs(65536)
    for k in idx:
        w, b = divmod(int(k), 256)
        first.value = w
        second.value = b
        await Timer(*SETTLE)
        got_p, got_nan = _signed(dut.p.value), int(dut.nan.value)
        if got_p != p[w, b] or got_nan != nan[w, b]:
            bad.append((hex(w), hex(b), got_p, int(p[w, b]), got_nan))
    _report(name, bad, idx.size)


async def _decode(dut, expected):
    want = expected["fields"]
    names = ("sign", "shift1", "shift2", "add", "sub", "zero", "nan")
    bad = []
    for c in range(256):
        dut.code.value = c
        await Timer(*SETTLE)
        got = [int(getattr(dut, n).value) for n in names]
        if got != want[c].tolist():
            bad.append((hex(c), got, want[c].tolist()))
    _report("rf8_decode", bad, 256)


async def _encode(dut, expected):
    bad, checked = [], 0
    for X, want in zip(expected["scale_exps"].tolist(), expected["codes"]):
        dut.scale_exp.value = X
        for x in _pairs(65536):
            dut.x.value = int(x)
            await Timer(*SETTLE)
            got = int(dut.code.value)
            checked += 1
            if got != want[x]:
                bad.append((X, hex(int(x)), hex(got), hex(int(want[x]))))
    _report("rf8_encode_bf16", bad, checked)


async def _mac(dut, name, want):
    """Seeded steps ($RF8LAB_RTL_STEPS) against a 32-bit two's-complement sum of the expected products that
    wraps as model.mac does; the NaN flag is sticky until a clear. First the largest product, enabled every
    cycle, until the accumulator has wrapped (at most WORST_STEPS: int8's 16,384 would need 131,072), then
    random pairs with clears and idle cycles."""
    p, nan = want["p"], want["nan"]
    rng = np.random.default_rng(18)
    steps = int(os.environ["RF8LAB_RTL_STEPS"])
    cocotb.start_soon(_clock(dut.clk))
    dut.en.value, dut.clear.value, dut.w.value, dut.a.value = 0, 1, 0, 0
    await RisingEdge(dut.clk)
    acc, flag, bad = 0, 0, []
    finite = np.abs(np.where(nan, 0, p))
    worst_w, worst_a = (int(i) for i in np.unravel_index(np.argmax(finite), finite.shape))
    worst_steps = min(WORST_STEPS, -(-(1 << 31) // int(finite.max())) + 8)
    for step in range(steps):
        if step < worst_steps:
            clear, en, w, a = 0, 1, worst_w, worst_a
        else:
            clear, en = int(rng.random() < 0.002), int(rng.random() < 0.95)
            w, a = int(rng.integers(256)), int(rng.integers(256))
        dut.clear.value, dut.en.value, dut.w.value, dut.a.value = clear, en, w, a
        await RisingEdge(dut.clk)
        base, flag = (0, 0) if clear else (acc, flag)
        acc = _wrap(base + (int(p[w, a]) if en else 0))
        flag = flag | (en and bool(nan[w, a]))
        await Timer(1, "ps")
        got = (_signed(dut.acc.value), int(dut.nan.value))
        if got != (acc, int(flag)):
            bad.append((step, hex(w), hex(a), got, (acc, int(flag))))
            if len(bad) > 20:
                break
    _report(name, bad, steps)


WORST_STEPS = 1000


def _wrap(v: int) -> int:
    v &= (1 << 32) - 1
    return v - (1 << 32) if v >> 31 else v


async def _clock(clk):
    while True:
        clk.value = 0
        await Timer(5, "ns")
        clk.value = 1
        await Timer(5, "ns")
