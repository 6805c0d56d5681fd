"""GG init + BackSlash training of a small MLP on sklearn's digits under torch DDP.

    torchrun --nproc_per_node 2 scripts/ddp_train.py --out DIR      # data parallel, gloo on CPU
    python scripts/ddp_train.py --out DIR                            # one process, same global batch

Each of the W processes takes its 1/W share of every global batch; DDP averages the gradients, so
the weights follow the single-process run (float64; equal up to the order of the sums). Rank 0
writes DIR/weights.pt.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rf8lab.methods.torch_methods import BackSlash, gg_init_
from rf8lab.nn import Digits


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--lam", type=float, default=3.0)
    a = ap.parse_args(argv)
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 10)).double()
    gg_init_(model, shape=1.0, xi=2.0, rng=0)  # same weights in every process
    net = nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    bs = BackSlash(lam=a.lam)
    data = Digits()
    rng = np.random.default_rng(1)
    share = a.batch // world
    for _ in range(a.steps):
        i = rng.integers(0, len(data.y_train), a.batch)[rank * share:(rank + 1) * share]
        x = torch.from_numpy(data.x_train[i].reshape(len(i), -1)).double()
        y = torch.from_numpy(data.y_train[i])
        loss = nn.functional.cross_entropy(net(x), y) + bs.loss(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if rank == 0:
        os.makedirs(a.out, exist_ok=True)
        torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, os.path.join(a.out, "weights.pt"))
    if distributed:
        dist.barrier()  # no rank tears gloo down while another still uses it (seen: abort at exit under load)
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
