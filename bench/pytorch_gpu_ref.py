"""pytorch_gpu_ref.py — the PyTorch counterpart of lvt's GPU training step, on the same GPU:
P1 (MSE on the raw output) or P4 with rollout H (tests/parity/p4_objective.py's objective:
rollout with gradient through every step, adaptive directional guard, future ranking, anti-copy;
context drop off because the reference objective is deterministic only at p = 0 or 1), each a
full step: zero_grad, forward (dropout on), loss, backward, clip_grad_norm_(1.0), AdamW. Timed
eager and with torch.compile (where it works; a failure is reported, not fatal), after warm-up,
with torch.cuda.synchronize around the timed loop. Also measures the GPU's GEMM peak (fp32,
TF32, BF16; 8192^3 matmuls) so achieved TFLOP/s can be put against it.

usage: /usr/bin/python3 bench/pytorch_gpu_ref.py CONFIG.json --batch B [--objective p1|p4]
          [--rollout-h H] [--math fp32|tf32|bf16] [--steps N] [--warmup W] [--no-compile]
          [--peak] [--json]
Exit 77 when torch has no CUDA device.
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
sys.path.insert(0, HERE)
import reference  # noqa: E402
from pytorch_ref import DEFAULTS, forward_flops_per_sample  # noqa: E402

P4 = {"rollout_h": 3, "lambda_roll": 0.1, "rollout_grad": "full", "rollout_supervise": "flat",
      "flat_threshold": 0.95, "flat_scale": 10.0, "lambda_dir": 0.01, "margin_dir": 0.01,
      "dir_ref": "prev", "adaptive_dir": "batch", "lambda_fut": 0.01, "margin_fut": 0.008,
      "lambda_ac": 0.005, "margin_ac": 0.02, "context_drop_p": 0.0, "context_drop_mode": "noise"}


def gemm_peak(dtype, tf32, n=8192, reps=10):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)  # noqa: F841
    for _ in range(2):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0) * 1e-12


def make_step(model, opt, objective, o, clip, batch):
    ctx, y, fut, futm, roll, rollm = batch

    def step():
        opt.zero_grad(set_to_none=True)
        if objective == "p1":
            raw, _ = model(ctx)
            loss = ((raw - y) ** 2).mean()
        else:
            import p4_objective
            loss, _ = p4_objective.p4_objective(lambda c, slot: model(c), ctx, y, fut, futm, roll, rollm, o)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss
    return step


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_steps(step, steps, warmup):
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    last = float(loss.item())
    sync()
    return (time.perf_counter() - t0) / steps, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--objective", choices=["p1", "p4"], default="p1")
    ap.add_argument("--rollout-h", type=int, default=3)
    ap.add_argument("--math", choices=["fp32", "tf32", "bf16"], default="tf32")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--peak", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cuda", help="cpu: a smoke run of the script itself (no timing meaning)")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("pytorch_gpu_ref: torch sees no CUDA device: skipped")
        sys.exit(77)
    with open(a.config) as f:
        cfg = json.load(f)
    m = dict(DEFAULTS, **cfg.get("model", {}))
    L = cfg.get("data", {}).get("context_len", 5)
    opt_cfg = cfg.get("optim", {})
    clip = cfg.get("train", {}).get("grad_clip", 1.0)
    B = a.batch
    D, d, F = m["dim"], m["d_model"], m["ffn_mult"] * m["d_model"]
    torch.manual_seed(42)
    torch.backends.cuda.matmul.allow_tf32 = a.math == "tf32"
    torch.backends.cudnn.allow_tf32 = a.math == "tf32"
    dev = torch.device(a.device)
    model = reference.LVMTransformer(D, d, m["n_heads"], m["n_layers"], F, m["dropout"]).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=opt_cfg.get("lr", 5e-4),
                            betas=tuple(opt_cfg.get("betas", [0.9, 0.999])), eps=opt_cfg.get("eps", 1e-8),
                            weight_decay=opt_cfg.get("weight_decay", 0.01))
    H = a.rollout_h if a.objective == "p4" else 1
    o = dict(P4, rollout_h=H)
    unit = lambda *s: torch.nn.functional.normalize(torch.randn(*s, device=dev), dim=-1)  # noqa: E731
    batch = (unit(B, L, D), unit(B, D), unit(B, 2, D), torch.ones(B, 2, device=dev), unit(B, max(H, 1), D),
             torch.ones(B, max(H, 1), device=dev))
    step = make_step(model, opt, a.objective, o, clip, batch)
    autocast = torch.autocast(a.device, dtype=torch.bfloat16) if a.math == "bf16" else None

    def run(fn):
        if autocast is None:
            return time_steps(fn, a.steps, a.warmup)
        with autocast:
            return time_steps(fn, a.steps, a.warmup)

    ff = forward_flops_per_sample(L, D, d, F, m["n_layers"])
    flops_step = 3.0 * ff * B * H  # H forwards (rollout slots), backward = 2 x forward
    gpu = torch.cuda.get_device_name(0) if a.device == "cuda" else "none (cpu smoke run)"
    res = {"impl": "pytorch", "torch": torch.__version__, "gpu": gpu, "batch": B,
           "objective": a.objective, "rollout_h": H, "math": a.math, "flops_per_step": flops_step}
    sec, last = run(step)
    res["eager"] = {"ms_per_step": sec * 1e3, "steps_per_s": 1.0 / sec, "tflops": flops_step / sec * 1e-12,
                    "last_loss": last}
    if not a.no_compile:
        try:
            cstep = torch.compile(step)
            sec, last = run(cstep)
            res["compile"] = {"ms_per_step": sec * 1e3, "steps_per_s": 1.0 / sec,
                              "tflops": flops_step / sec * 1e-12, "last_loss": last}
        except Exception as exc:  # torch.compile is best effort: report why it did not work
            res["compile"] = {"error": "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0][:200])}
    if a.peak:
        res["peak_tflops"] = {"fp32": gemm_peak(torch.float32, False), "tf32": gemm_peak(torch.float32, True),
                              "bf16": gemm_peak(torch.bfloat16, False)}
    if a.json:
        print(json.dumps(res))
    else:
        print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
