"""Training-step speed: rf8lab.nn (NumPy + Numba, hand-written backward) against torch on CPU with
the same threads, the same GPT config and the same batch, in one process.

    python benchmarks/bench_train.py [--quick] [--markdown FILE]

A step is forward, backward, gradient clipping and AdamW. Prints a table, then one JSON object with
the headline figures as its last line.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

import rf8lab as rl
from rf8lab import nn
from rf8lab.nn import torch_ref

CONFIGS = {  # name: (n_layer, n_head, d_model, block_size, batch)
    "small (study size)": (2, 4, 64, 64, 32),
    "medium": (4, 4, 128, 128, 32),
}


def rf8lab_step(cfg, params, opt, x, y, shards):
    loss, grads = nn.loss_and_grads(params, cfg, x, y, shards)
    nn.clip_grad_norm(grads, 1.0)
    opt.step(grads)
    return loss


def torch_step(cfg, tp, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = torch_ref.forward(tp, cfg, x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(tp.values()), 1.0)
    opt.step()
    return float(loss.detach())


def timed(fn, steps, repeat):
    fn()  # warm up (compilation, allocator)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        ts.append((time.perf_counter() - t) / steps)
    return statistics.median(ts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (< 30 s)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--markdown", default=None, help="also write what is printed to this file")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(a.threads)  # numpy's BLAS gets the same threads as torch
    lines = []

    def say(s):
        lines.append(s)
        print(s)

    corpus = nn.CharCorpus.load()
    steps, repeat = (5, 3) if a.quick else (20, 5)
    head = {"threads": a.threads, "versions": {"numpy": np.__version__, "torch": torch.__version__,
                                               "rf8lab": rl.__version__},
            "machine": platform.processor() or platform.machine()}
    say(f"{'config':20} {'params':>8} {'rf8lab tok/s':>13} {'2 shards':>9} "
        f"{'torch tok/s':>12} {'ratio':>6} {'loss diff':>10}")
    for name, (nl, nh, d, T, B) in CONFIGS.items():
        cfg = nn.Config("gpt", n_layer=nl, n_head=nh, d_model=d, block_size=T, vocab_size=corpus.vocab_size)
        params = nn.init_params(cfg, "normal", seed=0)
        tp = torch_ref.to_torch(params)
        x, y = corpus.batch(np.random.default_rng(0), B, T)
        xt, yt = torch.as_tensor(x), torch.as_tensor(y)
        l0 = nn.forward(params, cfg, x, y)[0]
        lt = float(torch_ref.forward(tp, cfg, xt, yt).detach())
        opt = nn.AdamW(params, lr=1e-4)
        topt = torch.optim.AdamW(list(tp.values()), lr=1e-4, weight_decay=0.01)
        t_1 = timed(lambda: rf8lab_step(cfg, params, opt, x, y, 1), steps, repeat)
        t_2 = timed(lambda: rf8lab_step(cfg, params, opt, x, y, 2), steps, repeat)
        t_t = timed(lambda: torch_step(cfg, tp, topt, xt, yt), steps, repeat)
        t_np = min(t_1, t_2)
        r = t_t / t_np
        say(f"{name:20} {nn.n_params(params):8d} {B * T / t_1:13.0f} {B * T / t_2:9.0f} {B * T / t_t:12.0f} {r:6.2f} "
            f"{abs(l0 - lt):10.2e}")
        key = name.split()[0]
        head[f"{key}_rf8lab_tok_s"] = round(B * T / t_1)
        head[f"{key}_rf8lab_2shards_tok_s"] = round(B * T / t_2)
        head[f"{key}_torch_tok_s"] = round(B * T / t_t)
        head[f"{key}_vs_torch"] = round(r, 2)
    say("rf8lab tok/s: one batch at a time (BLAS on all threads, Numba kernels serial); 2 shards: the batch\n"
        "as two halves computed at once in two threads (BLAS at one thread each). ratio: torch's time over\n"
        "rf8lab's better one. loss diff: |rf8lab - torch| loss at the start, same weights and batch (float32).")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("# Training-step speed\n\n`python benchmarks/bench_train.py`\n\n```\n" + "\n".join(lines)
                    + "\n```\n\n```json\n" + json.dumps(head) + "\n```\n")
    print(json.dumps(head))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
