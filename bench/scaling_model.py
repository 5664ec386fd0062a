#!/usr/bin/env python3
"""scaling_model.py — the data-parallel cost model of docs/scaling.md: ring all-reduce time of the
flat fp32 gradient (flat NVLink ring inside a node, hierarchical NVLink + InfiniBand across nodes),
a per-step compute-time model, and the smallest per-rank batch B that keeps data-parallel
efficiency = compute / (compute + exposed all-reduce) at or above a target, for rollout H = 1..8,
without and with overlap of the all-reduce and the backward pass.

Every figure is a parameter: plug in your cluster's bandwidths, or a per-sample compute time
measured with `lvt bench` (--compute-ms-per-sample), and the table follows.

usage: /usr/bin/python3 bench/scaling_model.py [--ranks 8,64,512] [--nvlink-gbps 450] [--ib-gbps 50]
           [--gpus-per-node 8] [--nics-per-node 8] [--alpha-nvlink-us 1] [--alpha-ib-us 5]
           [--params 17867520] [--bytes-per-param 4] [--mflop-fwd 173.42] [--peak-tflops 989.4]
           [--achieved 0.4] [--compute-ms-per-sample X] [--overhead-ms 0] [--overlap 0.6667]
           [--target 0.9] [--hmax 8] [--json]
"""
import argparse
import json
import math
import sys


def allreduce_time(n, a):
    """Seconds for one all-reduce of the gradient over n ranks; returns (total, bandwidth, latency).

    n <= gpus_per_node: one ring over NVLink, 2(n-1) steps of S/n bytes per rank:
        t = 2(n-1)/n * S / B_nvl + 2(n-1) * alpha_nvl
    n = g * m (m nodes): hierarchical — reduce-scatter over the node's NVLink ring (each GPU ends
    with a reduced 1/g shard), ring all-reduce of each shard across the m nodes (the g shards in
    parallel over the node's NICs), all-gather over NVLink:
        t = 2(g-1)/g * S / B_nvl + 2(m-1)/m * (S/g) / (B_ib * nics / g) + 2(g-1) alpha_nvl + 2(m-1) alpha_ib
    """
    S = a.params * a.bytes_per_param
    nvl, ib = a.nvlink_gbps * 1e9, a.ib_gbps * 1e9
    g = a.gpus_per_node
    if n <= 1:
        return 0.0, 0.0, 0.0
    if n <= g:
        bw = 2 * (n - 1) / n * S / nvl
        lat = 2 * (n - 1) * a.alpha_nvlink_us * 1e-6
        return bw + lat, bw, lat
    if n % g:
        raise SystemExit(f"scaling_model: {n} ranks is not a multiple of --gpus-per-node {g}")
    m = n // g
    per_gpu_ib = ib * a.nics_per_node / g
    bw = 2 * (g - 1) / g * S / nvl + 2 * (m - 1) / m * (S / g) / per_gpu_ib
    lat = 2 * (g - 1) * a.alpha_nvlink_us * 1e-6 + 2 * (m - 1) * a.alpha_ib_us * 1e-6
    return bw + lat, bw, lat


def compute_time(B, H, a):
    """Seconds of forward+backward (+ optimiser, folded into the overhead) for B samples per rank.

    FLOPs per sample = 3 x forward x H (the P1 step plus H-1 rollout forward+backward passes);
    achieved rate = achieved fraction x peak, or a measured per-sample time."""
    if a.compute_ms_per_sample is not None:
        per = a.compute_ms_per_sample * 1e-3
    else:
        per = 3 * a.mflop_fwd * 1e6 / (a.achieved * a.peak_tflops * 1e12)
    return a.overhead_ms * 1e-3 + B * H * per


def efficiency(tc, tcomm, overlap):
    """compute / (compute + exposed communication); overlap = share of the compute the
    all-reduce can hide behind (the backward pass, with bucketing)."""
    exposed = max(0.0, tcomm - overlap * tc)
    return tc / (tc + exposed) if tc + exposed > 0 else 1.0


def min_batch(H, tcomm, overlap, a):
    """Smallest B >= 1 with efficiency >= target (efficiency grows with B)."""
    ok = lambda B: efficiency(compute_time(B, H, a), tcomm, overlap) >= a.target - 1e-12
    if ok(1):
        return 1
    hi = 2
    while not ok(hi):
        hi *= 2
        if hi > 1 << 40:
            return None
    lo = hi // 2  # not ok(lo), ok(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", default="8,64,512")
    p.add_argument("--params", type=int, default=17867520)
    p.add_argument("--bytes-per-param", type=float, default=4.0)
    p.add_argument("--nvlink-gbps", type=float, default=450.0, help="NVLink bus bandwidth per GPU, GB/s")
    p.add_argument("--ib-gbps", type=float, default=50.0, help="per NIC, GB/s (NDR 400 Gb/s = 50)")
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--nics-per-node", type=int, default=8)
    p.add_argument("--alpha-nvlink-us", type=float, default=1.0, help="latency per ring step on NVLink")
    p.add_argument("--alpha-ib-us", type=float, default=5.0, help="latency per ring step across nodes")
    p.add_argument("--mflop-fwd", type=float, default=173.42, help="forward matmul MFLOP per sample")
    p.add_argument("--peak-tflops", type=float, default=989.4, help="H100 SXM dense BF16")
    p.add_argument("--achieved", type=float, default=0.4, help="achieved fraction of the peak")
    p.add_argument("--compute-ms-per-sample", type=float, default=None,
                   help="measured compute ms per sample at H=1 (overrides the FLOP model)")
    p.add_argument("--overhead-ms", type=float, default=0.0, help="fixed compute ms per step")
    p.add_argument("--overlap", type=float, default=2.0 / 3.0,
                   help="share of compute the all-reduce overlaps with (backward = 2/3)")
    p.add_argument("--target", type=float, default=0.9)
    p.add_argument("--hmax", type=int, default=8)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    ranks = [int(x) for x in a.ranks.split(",") if x]
    Hs = list(range(1, a.hmax + 1))

    rows = []
    for n in ranks:
        t, tb, tl = allreduce_time(n, a)
        rows.append({
            "ranks": n, "allreduce_ms": 1e3 * t, "bandwidth_ms": 1e3 * tb, "latency_ms": 1e3 * tl,
            "min_batch": {str(H): min_batch(H, t, 0.0, a) for H in Hs},
            "min_batch_overlap": {str(H): min_batch(H, t, a.overlap, a) for H in Hs},
        })
    out = {
        "gradient_bytes": a.params * a.bytes_per_param,
        "compute_ms_per_sample_h1": 1e3 * (compute_time(1, 1, a) - a.overhead_ms * 1e-3),
        "overhead_ms": a.overhead_ms, "target": a.target, "overlap": a.overlap, "rows": rows,
    }
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    S = out["gradient_bytes"]
    print(f"gradient {a.params:,} params x {a.bytes_per_param:g} B = {S / 1e6:.2f} MB; NVLink {a.nvlink_gbps:g} GB/s, "
          f"IB {a.ib_gbps:g} GB/s x {a.nics_per_node} NICs per {a.gpus_per_node}-GPU node")
    print(f"compute {out['compute_ms_per_sample_h1'] * 1e3:.3f} us per sample per rollout step"
          f" + {a.overhead_ms:g} ms per step; target efficiency {a.target:.0%}\n")
    print("| ranks | all-reduce ms (bandwidth + latency) | " + " | ".join(f"H={H}" for H in Hs) + " |")
    print("|---:|---:|" + "---:|" * len(Hs))
    for r in rows:
        cells = []
        for H in Hs:
            b0, b1 = r["min_batch"][str(H)], r["min_batch_overlap"][str(H)]
            cells.append(f"{b0} / {b1}")
        print(f"| {r['ranks']} | {r['allreduce_ms']:.3f} ({r['bandwidth_ms']:.3f} + {r['latency_ms']:.3f}) | "
              + " | ".join(cells) + " |")
    print("\ncells: smallest per-rank batch B for the target, without / with overlap of the all-reduce"
          " and the backward pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
