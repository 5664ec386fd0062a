"""test_ckpt_bench.py — `lvt bench` and bench/pytorch_ref.py on a tiny shape: the JSON report is
complete and self-consistent (samples/s = batch x steps/s, GFLOP/s = FLOPs / time), the parameter
count equals the PyTorch module's, and the analytic FLOP count per sample equals the matmul FLOPs
that torch.profiler counts (aten::mm/addmm/bmm/baddbmm) in a forward of the reference module.
usage: test_ckpt_bench.py LVT_BIN TMPDIR   (exit 0 pass, 1 fail, 77 skip)
"""
import json
import math
import os
import subprocess
import sys

try:
    import torch
    from torch.profiler import profile
except ImportError as exc:  # pragma: no cover
    print("skip: %s" % exc)
    sys.exit(77)

SRC = os.environ.get("LVT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "parity"))
import reference  # noqa: E402

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL: " + msg)


def main():
    lvt, tmp = sys.argv[1], os.path.join(sys.argv[2], "test_ckpt_bench")
    os.makedirs(tmp, exist_ok=True)
    D, d, H, NL, L, B = 24, 16, 4, 3, 6, 5
    cfg = os.path.join(tmp, "tiny.json")
    with open(cfg, "w") as f:
        json.dump({"model": {"dim": D, "d_model": d, "n_heads": H, "n_layers": NL, "ffn_mult": 2},
                   "data": {"context_len": L}, "train": {"global_batch": B, "backend": "cpu"}}, f)
    p = subprocess.run([lvt, "bench", cfg, "--steps", "3", "--warmup", "1", "--json"], capture_output=True, text=True)
    check(p.returncode == 0, "lvt bench failed: %s" % p.stderr)
    r = json.loads(p.stdout)
    torch.manual_seed(0)
    m = reference.LVMTransformer(D, d, H, NL, 2 * d, 0.0)
    n_params = sum(t.numel() for t in m.parameters())
    check(r["n_params"] == n_params, "n_params %d vs torch %d" % (r["n_params"], n_params))
    m.train()  # grad enabled, no fused fast path: every matmul is an aten op the profiler counts
    with profile(with_flops=True) as prof:
        m(torch.randn(B, L, D))
    mm = sum(ev.flops for ev in prof.events()
             if ev.flops and ev.name in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"))
    check(mm > 0 and r["flops_fwd_per_sample"] == mm / B,
          "analytic FLOPs %g per sample vs profiler %g" % (r["flops_fwd_per_sample"], mm / B))
    check(r["batch"] == B and r["steps"] == 3 and r["context_len"] == L, "report fields %r" % r)
    for ph in ("forward", "train"):
        x = r[ph]
        check(x["ms_per_step"] > 0, "%s ms_per_step %r" % (ph, x))
        check(math.isclose(x["steps_per_s"], 1e3 / x["ms_per_step"], rel_tol=1e-3), "%s steps/s" % ph)
        check(math.isclose(x["samples_per_s"], B * x["steps_per_s"], rel_tol=1e-3), "%s samples/s" % ph)
        mult = 3 if ph == "train" else 1
        want = mult * r["flops_fwd_per_sample"] * B / (x["ms_per_step"] * 1e-3) * 1e-9
        # gflops is printed with 3 decimals: allow half a unit of the last one (a slow run, e.g. under ASan)
        check(math.isclose(x["gflops"], want, rel_tol=2e-3, abs_tol=5e-4), "%s gflops %g vs %g" % (ph, x["gflops"], want))
    check(math.isfinite(r["last_loss"]) and r["last_loss"] > 0 and r["last_grad_norm"] > 0, "loss/norm %r" % r)
    # the PyTorch counterpart runs on the same config and agrees on the shape
    p = subprocess.run([sys.executable, os.path.join(SRC, "bench", "pytorch_ref.py"), cfg, "--steps", "2",
                        "--warmup", "1", "--threads", "1", "--json"], capture_output=True, text=True)
    check(p.returncode == 0, "pytorch_ref failed: %s" % p.stderr)
    if p.returncode == 0:
        t = json.loads(p.stdout)
        check(t["n_params"] == n_params and t["flops_fwd_per_sample"] == r["flops_fwd_per_sample"] and t["batch"] == B,
              "pytorch_ref report %r" % t)
    # the P4 step with the flat penalty inactive (bench/run_bench.sh p4i): lvt skips both later rollout
    # slots' backward, and the PyTorch counterpart accepts the same threshold
    p = subprocess.run([lvt, "bench", cfg, "--step", "p4", "--steps", "2", "--warmup", "1", "--set",
                        "objective.flat_threshold=1", "--json"], capture_output=True, text=True)
    check(p.returncode == 0, "bench --step p4 flat 1 failed: %s" % p.stderr)
    if p.returncode == 0:
        rb = json.loads(p.stdout)["rollout_backward"]
        check(rb["slots_skipped"] == 2 and rb["slots_run"] == 0, "p4, flat inactive: %r" % rb)
    p = subprocess.run([sys.executable, os.path.join(SRC, "bench", "pytorch_ref.py"), cfg, "--step", "p4", "--steps",
                        "1", "--warmup", "1", "--threads", "1", "--flat-threshold", "1", "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and json.loads(p.stdout)["train"]["ms_per_step"] > 0,
          "pytorch_ref --step p4 --flat-threshold 1: %s" % p.stderr)
    # bad input: one line, exit 1
    p = subprocess.run([lvt, "bench", cfg, "--steps", "0"], capture_output=True, text=True)
    check(p.returncode == 1 and p.stderr.count("\n") == 1 and "--steps" in p.stderr, "bench --steps 0: %r" % p.stderr)
    p = subprocess.run([lvt, "bench", os.path.join(tmp, "missing.json")], capture_output=True, text=True)
    check(p.returncode == 1 and p.stderr.count("\n") == 1, "bench missing config: %r" % p.stderr)
    if FAILS:
        print("test_ckpt_bench: %d check(s) FAILED" % len(FAILS))
        return 1
    print("test_ckpt_bench: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
