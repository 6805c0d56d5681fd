"""Bad input, class 4: coded streams. compress refuses what it cannot represent; decompress gives back
exactly what was compressed, and for any other bytes either some int64 symbols or CodingError, never a raw
error and never more memory than the stream announces within its bound."""
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rf8lab import entropy
from rf8lab.entropy import CodingError

LIM = (1 << 62) - 1
modes = st.fixed_dictionaries({"k": st.integers(0, 32), "ranked": st.booleans(), "zero_runs": st.booleans()})
symbols = arrays(np.int64, st.integers(0, 300), elements=st.one_of(st.integers(-4, 4), st.integers(-LIM, LIM)))


@settings(max_examples=200, deadline=None)
@given(x=symbols, kw=modes)
def test_round_trip(x, kw):
    np.testing.assert_array_equal(entropy.decompress(entropy.compress(x, **kw)), x)


@pytest.mark.parametrize("bad", [np.array([1 << 62]), np.array([-(1 << 63)]), np.array([1 << 63], np.uint64),
                                 np.array([np.iinfo(np.int64).max])])
def test_compress_refuses_what_it_cannot_represent(bad):
    with pytest.raises(CodingError, match="between -2\\^62 and 2\\^62"):
        entropy.compress(bad, k=3)


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


@settings(max_examples=400, deadline=None)
@given(x=symbols, kw=modes, data=st.data())
def test_mutated_streams_decode_or_raise_coding_error(x, kw, data):
    """Any byte of a valid stream changed, the stream cut or extended, with the CRC made valid again."""
    body = bytearray(entropy.compress(x, **kw)[:-4])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    body = body[:cut] + data.draw(st.binary(max_size=8))
    try:
        out = entropy.decompress(_seal(bytes(body)), max_symbols=1 << 16)
    except CodingError:
        return
    assert out.dtype == np.int64 and out.size <= 1 << 16


def test_a_small_stream_cannot_ask_for_gigabytes():
    head = entropy._HEAD.pack(entropy.MAGIC, entropy.VERSION, 0, entropy.ZERO_RUNS, 1 << 30, 64)
    stream = _seal(head + b"\x00" * 3 + b"\x01" + b"\x00" * 4)
    with pytest.raises(CodingError, match="more than max_symbols"):
        entropy.decompress(stream)
    head = entropy._HEAD.pack(entropy.MAGIC, entropy.VERSION, 0, 0, 1 << 20, 64)
    with pytest.raises(CodingError, match="cannot fit in 64 bits"):
        entropy.decompress(_seal(head + b"\xff" * 8))


def test_the_fuzz_script_runs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_inputs.py"
    res = subprocess.run([sys.executable, str(script), "--cases", "300", "--seed", "7"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    last = json.loads(res.stdout.strip().splitlines()[-1])
    assert last["cases"] == 600 and last["other_errors"] == 0
