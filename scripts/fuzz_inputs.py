"""Fuzz the two readers of untrusted bytes, under a memory limit: coded streams (rf8lab.entropy.decompress)
and safetensors headers (rf8lab.io.safetensors.read).

    python scripts/fuzz_inputs.py [--cases 100000] [--seed 0] [--memory-gib 2]

Each case is a valid stream or file, mutated: bytes changed, cut, extended, header fields replaced by random
JSON values, offsets shifted; streams get a valid CRC again, so the decoder's own checks are what is tested.
A case passes when the reader returns (a stream: int64 symbols, no more than it announces; a file: arrays that
tile its data exactly) or raises its own error (CodingError, CheckpointError). Any other exception, or a
MemoryError under the address-space limit (`resource.RLIMIT_AS`), fails the run. Prints counts and, as its
last line, a JSON object.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from rf8lab import entropy
from rf8lab.entropy import CodingError
from rf8lab.io import safetensors
from rf8lab.io.files import CheckpointError


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def stream_case(rng: np.random.Generator) -> bytes:
    n = int(rng.integers(0, 200))
    x = np.round(rng.laplace(0, float(rng.choice([0.5, 3, 1e6])), n)).astype(np.int64)
    if rng.random() < 0.3:
        x[rng.random(n) < 0.8] = 0
    body = bytearray(entropy.compress(x, k=int(rng.integers(0, 33)), ranked=bool(rng.random() < 0.5),
                                      zero_runs=bool(rng.random() < 0.5))[:-4])
    for _ in range(int(rng.integers(1, 5))):
        i = int(rng.integers(0, len(body)))
        if rng.random() < 0.5:
            body[i] = int(rng.integers(0, 256))
        else:  # a header field set to an extreme value
            field = int(rng.choice([5, 6, 7, 8, 16]))
            width = 1 if field < 8 else 8
            values = [0, 1, 2 ** 20, 2 ** 27, 2 ** 40, 2 ** (8 * width) - 1]
            value = values[int(rng.integers(0, len(values)))] & (2 ** (8 * width) - 1)
            body[field:field + width] = value.to_bytes(width, "little")
    if rng.random() < 0.3:
        body = body[:int(rng.integers(0, len(body) + 1))]
    if rng.random() < 0.2:
        body += rng.bytes(int(rng.integers(1, 16)))
    return _seal(bytes(body))


JUNK = [None, True, -1, 0, 7, 2 ** 63, 1.5, "F32", "x", [], [3], [-1, 2], [0, 8], {"a": 1}, [2.0, 1]]


def _junk(rng: np.random.Generator):
    return copy.deepcopy(JUNK[int(rng.integers(0, len(JUNK)))])  # a fresh copy: never the same object twice


def _pair(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)


def header_case(rng: np.random.Generator) -> bytes:
    names = [f"t{i}" for i in range(int(rng.integers(1, 4)))]
    head, pos = {}, 0
    for name in names:
        shape = [int(v) for v in rng.integers(0, 5, int(rng.integers(0, 3)))]
        dt, size = rng.choice([("F32", 4), ("BF16", 2), ("I8", 1), ("F64", 8)])
        nbytes = int(size) * int(np.prod(shape, dtype=np.int64))
        head[name] = {"dtype": str(dt), "shape": shape, "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    for _ in range(int(rng.integers(1, 4))):
        name = str(rng.choice(names))
        kind = int(rng.integers(0, 5))
        if kind == 0:
            head[name] = _junk(rng)
        elif kind == 1 and isinstance(head[name], dict):
            head[name][str(rng.choice(["dtype", "shape", "data_offsets"]))] = _junk(rng)
        elif kind == 2 and isinstance(head[name], dict) and _pair(head[name].get("data_offsets")):
            b, e = head[name]["data_offsets"]
            d = int(rng.integers(-9, 10))
            head[name]["data_offsets"] = [b + d, e + int(rng.choice([0, d]))]
        elif kind == 3:
            head["__metadata__"] = _junk(rng) if rng.random() < 0.5 else {"k": "v"}
    raw = json.dumps(head).encode() if rng.random() > 0.05 else rng.bytes(int(rng.integers(0, 40)))
    data = rng.bytes(max(0, pos + int(rng.choice([0, 0, 0, -3, 5]))))
    hlen = len(raw) if rng.random() > 0.05 else int(rng.choice([0, 2 ** 40, len(raw) + 3]))
    return struct.pack("<Q", hlen) + raw + data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000, help="cases per reader (default 100000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-gib", type=float, default=2.0, help="address-space limit for the whole process")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    entropy.decompress(entropy.compress(np.arange(5)))  # compile the Numba coder before the limit
    limit = int(a.memory_gib * 2 ** 30)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    counts = {"streams_decoded": 0, "streams_refused": 0, "files_read": 0, "files_refused": 0}
    t0 = time.perf_counter()
    for i in range(a.cases):
        data = stream_case(rng)
        try:
            out = entropy.decompress(data)
        except CodingError:
            counts["streams_refused"] += 1
        else:
            assert out.dtype == np.int64 and out.size <= entropy.MAX_SYMBOLS, f"stream case {i}"
            counts["streams_decoded"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.safetensors"
        for i in range(a.cases):
            raw = header_case(rng)
            path.write_bytes(raw)
            try:
                arrays = safetensors.read(path)
            except CheckpointError:
                counts["files_refused"] += 1
            else:
                hlen = struct.unpack("<Q", raw[:8])[0]
                assert sum(v.nbytes for v in arrays.values()) == len(raw) - 8 - hlen, f"file case {i}"
                counts["files_read"] += 1
    seconds = time.perf_counter() - t0
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    result = {"cases": 2 * a.cases, "seed": a.seed, "memory_limit_gib": a.memory_gib, **counts,
              "other_errors": 0, "seconds": round(seconds, 1)}
    for k, v in counts.items():
        print(f"{k:16} {v:8d}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
