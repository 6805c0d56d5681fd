"""`rf8lab pack CHECKPOINT -o FILE`: weight matrices stored as 8-bit codes plus scales (safetensors)."""
from __future__ import annotations

import sys


def add(sub) -> None:
    k = sub.add_parser("pack", help="store a checkpoint's weight matrices as codes + scales (safetensors; codes "
                       "narrower than a byte packed densely)")
    k.add_argument("checkpoint", help="a .safetensors, .npz or torch file, a sharded checkpoint "
                   "(its folder or its *.index.json), or 'minilm'")
    k.add_argument("-o", "--out", required=True, help="the packed .safetensors to write (a folder for a sharded "
                   "checkpoint: its shards packed under the same names, with their own index)")
    k.add_argument("--fmt", default="rf8", help="a format or a spec, e.g. rf8, rf8:log:channel, e4m3:block:block=64, "
                   "nvfp4, mxfp4 (`rf8lab table` lists them)")
    k.add_argument("--rounding", default=None, help="replaces the spec's rounding (default nearest; also "
                   "nearest-away, toward-zero, toward-positive, toward-negative, to-odd, stochastic, "
                   "stochastic-fast, stochastic-even, stochastic-odd, log)")
    k.add_argument("--sr-bits", type=int, default=None,
                   help="random bits of stochastic rounding (1..32; needed by the stochastic-* variants)")
    k.add_argument("--scale", default="auto",
                   help="none, tensor, channel or block (default: the spec's, else per channel)")
    k.add_argument("--overflow", default=None, help="replaces the spec's overflow (default sat-finite; also "
                   "sat-propagate and ovf-inf where the format has inf, nan where it has NaN)")
    k.add_argument("--block", type=int, default=None, help="block size with --scale block (default 32)")
    k.add_argument("--tensors", default=None, help="glob(s) of tensors to pack, comma-separated (default: all 2-D+)")
    k.set_defaults(func=run)


def run(args) -> int:
    from ..io.files import CheckpointError
    from ..io.pack import pack

    try:
        r = pack(args.checkpoint, args.out, fmt=args.fmt, rounding=args.rounding, scale=args.scale,
                 overflow=args.overflow, block=args.block, tensors=args.tensors, sr_bits=args.sr_bits)
    except (CheckpointError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"packed {r['packed']} tensors as {r['spec']}, copied {r['copied']}; "
          f"{r['bytes_in']} -> {r['bytes_out']} bytes ({r['bytes_in'] / max(1, r['bytes_out']):.2f}x smaller): "
          f"{args.out}")
    return 0
