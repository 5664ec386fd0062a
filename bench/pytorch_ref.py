"""pytorch_ref.py — the PyTorch counterpart of `lvt bench`: the same model (the module tree of
tests/parity/reference.py), the same batch and shape, the same two timings:

  forward  model.eval(), torch.no_grad(), one forward of B samples
  train    one P1 step: model.train() forward (dropout on), MSE on the raw output, backward,
           clip_grad_norm_(1.0), torch.optim.AdamW step, loss.item()

on synthetic random inputs, warm-up steps excluded, torch.set_num_threads(THREADS) (default 2,
the benchmark machine's cores). FLOPs are counted with the same analytic formula as lvt
(docs/bench.md).

usage: /usr/bin/python3 bench/pytorch_ref.py CONFIG.json [--batch B] [--steps N] [--warmup W]
                                             [--threads T] [--json]
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import reference  # noqa: E402

DEFAULTS = {"dim": 768, "d_model": 512, "n_heads": 8, "n_layers": 4, "ffn_mult": 4, "dropout": 0.1}


def forward_flops_per_sample(L, D, d, F, n_layers):
    attn = 2 * L * d * 3 * d + 2 * L * L * d * 2 + 2 * L * d * d
    return 2 * L * D * d + n_layers * (2 * attn + 2 * L * d * F * 2) + 2 * d * d + 2 * d * D


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    m = dict(DEFAULTS, **cfg.get("model", {}))
    L = cfg.get("data", {}).get("context_len", 5)
    opt_cfg = cfg.get("optim", {})
    B = a.batch or cfg.get("train", {}).get("global_batch", 64)
    clip = cfg.get("train", {}).get("grad_clip", 1.0)
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    D, d, F = m["dim"], m["d_model"], m["ffn_mult"] * m["d_model"]
    model = reference.LVMTransformer(D, d, m["n_heads"], m["n_layers"], F, m["dropout"])
    betas = tuple(opt_cfg.get("betas", [0.9, 0.999]))
    opt = torch.optim.AdamW(model.parameters(), lr=opt_cfg.get("lr", 5e-4), betas=betas,
                            eps=opt_cfg.get("eps", 1e-8), weight_decay=opt_cfg.get("weight_decay", 0.01))
    ctx = torch.rand(B, L, D) * 2 - 1
    y = torch.rand(B, D) * 2 - 1

    model.eval()
    with torch.no_grad():
        for s in range(a.warmup + a.steps):
            if s == a.warmup:
                t0 = time.perf_counter()
            model(ctx)
    t_fwd = time.perf_counter() - t0

    model.train()
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        raw, _ = model(ctx)
        loss = ((raw - y) ** 2).mean()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        last_loss = loss.item()
    t_train = time.perf_counter() - t0

    ff = forward_flops_per_sample(L, D, d, F, m["n_layers"])
    n_params = sum(p.numel() for p in model.parameters())
    fwd_ms, train_ms = 1e3 * t_fwd / a.steps, 1e3 * t_train / a.steps
    res = {"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": B, "steps": a.steps,
           "warmup": a.warmup, "n_params": n_params, "flops_fwd_per_sample": ff,
           "forward": {"ms_per_step": fwd_ms, "steps_per_s": 1e3 / fwd_ms, "samples_per_s": B * 1e3 / fwd_ms,
                       "gflops": ff * B / fwd_ms * 1e-6},
           "train": {"ms_per_step": train_ms, "steps_per_s": 1e3 / train_ms, "samples_per_s": B * 1e3 / train_ms,
                     "gflops": 3 * ff * B / train_ms * 1e-6},
           "last_loss": last_loss, "last_grad_norm": float(norm)}
    if a.json:
        print(json.dumps(res))
    else:
        print("pytorch_ref: torch %s, %d threads, batch %d, %d parameters, %d steps after %d warm-up" %
              (torch.__version__, a.threads, B, n_params, a.steps, a.warmup))
        for k in ("forward", "train"):
            r = res[k]
            print("  %-10s %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s" %
                  (k, r["ms_per_step"], r["steps_per_s"], r["samples_per_s"], r["gflops"]))


if __name__ == "__main__":
    main()
