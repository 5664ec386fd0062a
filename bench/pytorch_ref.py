"""pytorch_ref.py — the PyTorch counterpart of `lvt bench`: the same model (the module tree of
tests/parity/reference.py), the same batch and shape, the same two timings:

  forward  model.eval(), torch.no_grad(), one forward of B samples
  train    one P1 step: model.train() forward (dropout on), MSE on the raw output, backward,
           clip_grad_norm_(1.0), torch.optim.AdamW step, loss.item()

on synthetic random inputs, warm-up steps excluded, torch.set_num_threads(THREADS) (default 2,
the benchmark machine's cores). FLOPs are counted with the same analytic formula as lvt
(docs/bench.md). --step selects, as for `lvt bench`: all (forward and P1), eval, p1 or p4. The P4
step is the independent PyTorch objective of tests/parity/p4_objective.py with the knobs of the
recipe's last phase (H = 3 full, flat, lambda_roll 0.1, lambda_dir 0.002 adaptive per batch,
lambda_fut 0.002, context drop 0.05 noise: Bernoulli per sample, the last context row replaced by
an L2-normalised Gaussian row before the main forward), then clipping and AdamW.

usage: /usr/bin/python3 bench/pytorch_ref.py CONFIG.json [--batch B] [--steps N] [--warmup W]
                                             [--threads T] [--step all|eval|p1|p4] [--math fp32|bf16]
                                             [--flat-threshold X] [--json]
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
from p4_objective import p4_objective  # noqa: E402

P4_H = 3
# the objective of the recipe's last phase (configs/p4_rollout.json, curriculum from epoch 10)
P4_KNOBS = {"rollout_h": P4_H, "lambda_roll": 0.1, "rollout_grad": "full", "rollout_supervise": "flat",
            "lambda_dir": 0.002, "adaptive_dir": "batch", "lambda_fut": 0.002, "context_drop_p": 0.0,
            "context_drop_mode": "noise"}
P4_DEFAULTS = {"flat_threshold": 0.95, "flat_scale": 10.0, "margin_dir": 0.01, "dir_ref": "prev",
               "margin_fut": 0.008, "lambda_ac": 0.0, "margin_ac": 0.02}
P4_DROP_P = 0.05

DEFAULTS = {"dim": 768, "d_model": 512, "n_heads": 8, "n_layers": 4, "ffn_mult": 4, "dropout": 0.1}


def forward_flops_per_sample(L, D, d, F, n_layers):
    attn = 2 * L * d * 3 * d + 2 * L * L * d * 2 + 2 * L * d * d
    return 2 * L * D * d + n_layers * (2 * attn + 2 * L * d * F * 2) + 2 * d * d + 2 * d * D


def phase(ms, B, flops_per_sample):
    return {"ms_per_step": ms, "steps_per_s": 1e3 / ms, "samples_per_s": B * 1e3 / ms,
            "gflops": flops_per_sample * B / ms * 1e-6}


def p4_batch(cfg, B, L, D, dtype=torch.float32):
    """Synthetic P4 batch: targets, +2/+3 rows, rollout truth, every mask 1; the objective knobs."""
    o = dict(P4_DEFAULTS, **{k: v for k, v in cfg.get("objective", {}).items() if k in P4_DEFAULTS})
    o.update(P4_KNOBS)
    t = {"y": torch.rand(B, D) * 2 - 1, "fut": torch.rand(B, 2, D) * 2 - 1, "futm": torch.ones(B, 2),
         "roll": torch.rand(B, P4_H, D) * 2 - 1, "rollm": torch.ones(B, P4_H)}
    return dict({k: v.to(dtype) for k, v in t.items()}, o=o)


def p4_loss(model, ctx, b):
    """The P4 objective with context drop: the main forward sees the dropped context."""
    B, L, D = ctx.shape
    drop = torch.rand(B) < P4_DROP_P
    noise = torch.randn(B, D)
    noise = (noise / noise.norm(dim=1, keepdim=True)).to(ctx.dtype)
    dropped = torch.where(drop[:, None], noise, ctx[:, L - 1])
    model_ctx = torch.cat([ctx[:, : L - 1], dropped[:, None]], dim=1)

    def forward(c, slot):
        return model(model_ctx if slot == 0 else c)

    total, _ = p4_objective(forward, ctx, b["y"], b["fut"], b["futm"], b["roll"], b["rollm"], b["o"])
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", choices=("all", "eval", "p1", "p4"), default="all")
    ap.add_argument("--math", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: the model, its inputs and AdamW in torch.bfloat16 (PyTorch 1.13's CPU "
                         "autocast fails on this module tree: layer_norm 'expected scalar type BFloat16 "
                         "but found Float'); docs/bench.md, 'bf16 on AMX'")
    ap.add_argument("--flat-threshold", type=float, default=None,
                    help="P4: the flat penalty's threshold (default: the config's, else 0.95); 1 keeps the "
                         "penalty inactive, the regime of a trained model (docs/bench.md, 'Zero-gradient slots')")
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
    ctx = torch.rand(B, L, D) * 2 - 1
    y = torch.rand(B, D) * 2 - 1
    if a.math == "bf16":  # pure bf16: parameters, optimiser state, activations (oneDNN's AMX kernels)
        model.to(torch.bfloat16)
        ctx, y = ctx.to(torch.bfloat16), y.to(torch.bfloat16)
    betas = tuple(opt_cfg.get("betas", [0.9, 0.999]))
    opt = torch.optim.AdamW(model.parameters(), lr=opt_cfg.get("lr", 5e-4), betas=betas,
                            eps=opt_cfg.get("eps", 1e-8), weight_decay=opt_cfg.get("weight_decay", 0.01))

    do_fwd, do_train = a.step in ("all", "eval"), a.step != "eval"
    t_fwd = t_train = 0.0
    last_loss, norm = 0.0, 0.0
    model.eval()
    with torch.no_grad():
        for s in range(a.warmup + a.steps if do_fwd else 0):
            if s == a.warmup:
                t0 = time.perf_counter()
            model(ctx)
    if do_fwd:
        t_fwd = time.perf_counter() - t0

    model.train()
    batch = p4_batch(cfg, B, L, D, ctx.dtype) if a.step == "p4" else None
    if batch is not None and a.flat_threshold is not None:
        batch["o"]["flat_threshold"] = a.flat_threshold
    for s in range(a.warmup + a.steps if do_train else 0):
        if s == a.warmup:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if batch is None:
            raw, _ = model(ctx)
            loss = ((raw - y) ** 2).mean()
        else:
            loss = p4_loss(model, ctx, batch)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        last_loss = loss.item()
    if do_train:
        t_train = time.perf_counter() - t0

    ff = forward_flops_per_sample(L, D, d, F, m["n_layers"])
    tf = 3 * P4_H * ff if a.step == "p4" else 3 * ff
    n_params = sum(p.numel() for p in model.parameters())
    fwd_ms, train_ms = 1e3 * t_fwd / a.steps, 1e3 * t_train / a.steps
    res = {"impl": "pytorch", "torch": torch.__version__, "math": a.math, "threads": a.threads, "batch": B, "steps": a.steps,
           "warmup": a.warmup, "n_params": n_params, "flops_fwd_per_sample": ff, "step": a.step,
           "flops_step_per_sample": tf,
           "forward": phase(fwd_ms, B, ff) if do_fwd else None,
           "train": phase(train_ms, B, tf) if do_train else None,
           "last_loss": last_loss, "last_grad_norm": float(norm)}
    if a.json:
        print(json.dumps(res))
    else:
        print("pytorch_ref: torch %s, %d threads, batch %d, %d parameters, %d steps after %d warm-up" %
              (torch.__version__, a.threads, B, n_params, a.steps, a.warmup))
        for k in ("forward", "train"):
            r = res[k]
            if r is None:
                continue
            print("  %-10s %9.3f ms/step  %8.2f steps/s  %10.1f samples/s  %8.2f GFLOP/s" %
                  (k, r["ms_per_step"], r["steps_per_s"], r["samples_per_s"], r["gflops"]))


if __name__ == "__main__":
    main()
