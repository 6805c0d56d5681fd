"""`rf8lab train gpt|vit`: a small GPT (CPython docs text) or ViT (sklearn digits) trained in NumPy."""
from __future__ import annotations

import sys


def add(sub) -> None:
    r = sub.add_parser("train", help="train a small GPT (CPython docs text) or ViT (sklearn digits) in NumPy")
    r.add_argument("kind", choices=["gpt", "vit"])
    r.add_argument("-o", "--out", default="run", help="folder for checkpoints (default: run)")
    r.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    r.add_argument("--text", default=None, help="GPT: a UTF-8 text file instead of CPython's docs")
    r.add_argument("--steps", type=int, default=1000)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--lr", type=float, default=3e-3)
    r.add_argument("--warmup", type=int, default=50)
    r.add_argument("--eval-every", type=int, default=100)
    r.add_argument("--n-layer", type=int, default=2)
    r.add_argument("--n-head", type=int, default=4)
    r.add_argument("--d-model", type=int, default=64)
    r.add_argument("--block-size", type=int, default=64, help="GPT context in characters")
    r.add_argument("--patch-size", type=int, default=2, help="ViT patch side in pixels")
    r.add_argument("--init", choices=["normal", "xavier", "kaiming", "gg"], default="normal")
    r.add_argument("--shape", type=float, default=2.0, help="GG init shape nu")
    r.add_argument("--xi", type=float, default=2.0, help="GG/Kaiming init: Var = xi / fan")
    r.add_argument("--fan", choices=["in", "out"], default="in")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    r.add_argument("--shards", type=int, default=1,
                   help="compute each batch as this many parts in parallel threads (2 uses 2 cores)")
    r.set_defaults(func=run)


def run(args) -> int:
    from .. import nn
    from ..nn.train import TrainConfig, TrainingError, load_data, train

    try:
        data = load_data(args.kind, args.text)
    except (FileNotFoundError, UnicodeDecodeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.kind == "gpt":
        cfg = nn.Config("gpt", n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model,
                        block_size=args.block_size, vocab_size=data.vocab_size)
    else:
        cfg = nn.Config("vit", n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model,
                        n_classes=data.n_classes, patch_size=args.patch_size)
    init_kw = {"shape": args.shape, "xi": args.xi, "fan": args.fan} if args.init == "gg" else \
        {"xi": args.xi, "fan": args.fan} if args.init == "kaiming" else {}
    tc = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                     eval_every=args.eval_every, seed=args.seed, init=args.init, init_kw=init_kw, dtype=args.dtype,
                     shards=args.shards)
    print(f"{args.kind}: {nn.n_params(nn.init_params(cfg))} parameters, data {data.source} "
          f"(sha256 {data.sha256[:12]}), init {args.init} {init_kw}, seed {args.seed}")
    try:
        r = train(cfg, tc, data, out=args.out, resume=args.resume)
    except TrainingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    last = r.final
    extra = f", val acc {last['val_acc']:.4f}" if "val_acc" in last else ""
    print(f"step {last['step']}: train loss {last['train_loss']:.4f}, val loss {last['val_loss']:.4f}{extra}")
    print(f"wrote {args.out}/checkpoint.safetensors, {args.out}/model.safetensors, {args.out}/config.json")
    return 0
