"""scaling_ring_ref.py — checks bench/scaling_model.py against a simulated all-reduce: a ring
(reduce-scatter + all-gather) over N ranks and the hierarchical NVLink/IB scheme over g GPUs x m
nodes, run on numpy arrays. The simulation checks every rank ends with the global sum, counts the
bytes each rank sends per link type and the sequential steps, and the model's time must equal
bytes / bandwidth + steps x latency. Then the smallest batch for 90 % efficiency is checked to be
the boundary (efficiency recomputed here, with and without overlap)."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

SRC = os.environ.get("LVT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
spec = importlib.util.spec_from_file_location("scaling_model", os.path.join(SRC, "bench", "scaling_model.py"))
sm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sm)
fails = 0


def check(cond, msg):
    global fails
    if not cond:
        print("check failed:", msg)
        fails += 1


def ring_reduce_scatter(bufs):
    """In place over the ring of len(bufs) ranks; rank r ends owning reduced chunk (r+1) % n.
    Returns (elements sent per rank, steps)."""
    n = len(bufs)
    chunks = [np.array_split(np.arange(len(bufs[0])), n) for _ in range(n)]
    sent = [0] * n
    for k in range(n - 1):
        msgs = []
        for r in range(n):
            c = (r - k) % n
            msgs.append(((r + 1) % n, c, bufs[r][chunks[r][c]].copy()))
            sent[r] += len(chunks[r][c])
        for dst, c, data in msgs:
            bufs[dst][chunks[dst][c]] += data
    return sent, n - 1


def ring_all_gather(bufs):
    """Rank r starts owning chunk (r+1) % n; everyone ends with every chunk."""
    n = len(bufs)
    idx = np.array_split(np.arange(len(bufs[0])), n)
    sent = [0] * n
    for k in range(n - 1):
        msgs = []
        for r in range(n):
            c = (r + 1 - k) % n
            msgs.append(((r + 1) % n, c, bufs[r][idx[c]].copy()))
            sent[r] += len(idx[c])
        for dst, c, data in msgs:
            bufs[dst][idx[c]] = data
    return sent, n - 1


rng = np.random.default_rng(5)


def simulate_flat(n, E):
    bufs = [rng.integers(-1000, 1000, E).astype(np.int64) for _ in range(n)]
    want = sum(bufs)
    s1, k1 = ring_reduce_scatter(bufs)
    s2, k2 = ring_all_gather(bufs)
    check(all((b == want).all() for b in bufs), f"flat ring n={n}: wrong sum")
    return max(a + b for a, b in zip(s1, s2)) / E, k1 + k2


def simulate_hier(g, m, E):
    """g GPUs per node, m nodes; returns (NVLink fraction sent, IB fraction sent, steps nvl, steps ib)."""
    bufs = [[rng.integers(-1000, 1000, E).astype(np.int64) for _ in range(g)] for _ in range(m)]
    want = sum(sum(node) for node in bufs)
    nvl, ib = [0] * (g * m), [0] * (g * m)
    for j in range(m):  # reduce-scatter inside each node
        s, k_rs = ring_reduce_scatter(bufs[j])
        for i in range(g):
            nvl[j * g + i] += s[i]
    idx = np.array_split(np.arange(E), g)
    k_ib = 0
    for i in range(g):  # GPU i of every node owns shard (i+1) % g: all-reduce it across nodes
        c = (i + 1) % g
        shard = [bufs[j][i][idx[c]].copy() for j in range(m)]
        s1, k1 = ring_reduce_scatter(shard) if m > 1 else ([0] * m, 0)
        s2, k2 = ring_all_gather(shard) if m > 1 else ([0] * m, 0)
        k_ib = k1 + k2
        for j in range(m):
            bufs[j][i][idx[c]] = shard[j]
            ib[j * g + i] += s1[j] + s2[j]
    for j in range(m):  # all-gather inside each node
        s, k_ag = ring_all_gather(bufs[j])
        for i in range(g):
            nvl[j * g + i] += s[i]
    check(all((b == want).all() for node in bufs for b in node), f"hierarchical {g}x{m}: wrong sum")
    return max(nvl) / E, max(ib) / E, k_rs + k_ag, k_ib


def model_args(**kw):
    a = argparse.Namespace(
        params=1_000_003, bytes_per_param=4.0, nvlink_gbps=300.0, ib_gbps=20.0, gpus_per_node=4,
        nics_per_node=2, alpha_nvlink_us=2.0, alpha_ib_us=7.0, mflop_fwd=173.42, peak_tflops=989.4,
        achieved=0.4, compute_ms_per_sample=None, overhead_ms=0.0, overlap=2 / 3, target=0.9)
    for k, v in kw.items():
        setattr(a, k, v)
    return a


a = model_args()
S = a.params * a.bytes_per_param
for n in (2, 3, 4):  # one node (n <= gpus_per_node): flat NVLink ring
    frac, steps = simulate_flat(n, n * 60)
    want = frac * S / (a.nvlink_gbps * 1e9) + steps * a.alpha_nvlink_us * 1e-6
    got = sm.allreduce_time(n, a)[0]
    check(abs(got - want) <= 1e-9 * want, f"flat n={n}: model {got} vs simulated {want}")
    check(abs(frac - 2 * (n - 1) / n) < 1e-12, f"flat n={n}: fraction sent {frac}")
for g, m in ((4, 2), (4, 3), (4, 5)):
    frac_nvl, frac_ib, k_nvl, k_ib = simulate_hier(g, m, g * m * 30)
    per_gpu_ib = a.ib_gbps * 1e9 * a.nics_per_node / g
    want = (frac_nvl * S / (a.nvlink_gbps * 1e9) + frac_ib * S / per_gpu_ib
            + k_nvl * a.alpha_nvlink_us * 1e-6 + k_ib * a.alpha_ib_us * 1e-6)
    got = sm.allreduce_time(g * m, a)[0]
    check(abs(got - want) <= 1e-9 * want, f"hierarchical {g}x{m}: model {got} vs simulated {want}")

# The smallest batch is the 90 % boundary, efficiency recomputed independently.
for kw in ({}, {"overhead_ms": 0.05}, {"compute_ms_per_sample": 0.002, "overhead_ms": 0.0}):
    a = model_args(**kw)
    per = (a.compute_ms_per_sample * 1e-3 if a.compute_ms_per_sample is not None
           else 3 * a.mflop_fwd * 1e6 / (a.achieved * a.peak_tflops * 1e12))
    for n in (4, 8, 20):
        tcomm = sm.allreduce_time(n, a)[0]
        for H in (1, 3, 8):
            for ov in (0.0, a.overlap):
                def eff(B):
                    tc = a.overhead_ms * 1e-3 + B * H * per
                    exposed = max(0.0, tcomm - ov * tc)
                    return tc / (tc + exposed)
                B = sm.min_batch(H, tcomm, ov, a)
                check(eff(B) >= 0.9 - 1e-12, f"n={n} H={H} overlap={ov}: eff({B}) = {eff(B)}")
                check(B == 1 or eff(B - 1) < 0.9, f"n={n} H={H} overlap={ov}: B-1={B - 1} also reaches 90 %")

# The command line: defaults (17,867,520 params, NVLink 450 GB/s) at N = 8.
out = json.loads(subprocess.run([sys.executable, os.path.join(SRC, "bench", "scaling_model.py"), "--json"],
                                check=True, capture_output=True, text=True).stdout)
r8 = [r for r in out["rows"] if r["ranks"] == 8][0]
want8 = 1e3 * (2 * 7 / 8 * 17867520 * 4 / 450e9 + 14 * 1e-6)
check(abs(r8["allreduce_ms"] - want8) < 1e-9, f"N=8 default {r8['allreduce_ms']} vs {want8}")
check(set(r8["min_batch"]) == {str(h) for h in range(1, 9)}, "H = 1..8 in the table")
print("PASS" if not fails else f"FAIL ({fails})")
sys.exit(1 if fails else 0)
