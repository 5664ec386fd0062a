#!/usr/bin/env python3
"""test_synth_ref.py — an independent numpy/h5py recomputation of `lvt inspect --json` on a
store (all windows: run inspect with --max-windows at least the window count). Definitions as in
docs/synth.md. Usage: test_synth_ref.py STORE.h5 INSPECT.json [L]. Exit 0 when they agree."""
import json
import sys

import h5py
import numpy as np


def main():
    path, js = sys.argv[1], sys.argv[2]
    L = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    got = json.load(open(js))
    with h5py.File(path, "r") as f:
        V = f["vectors"][...].astype(np.float64)
        off = f["article_offsets"][...]
        assert f.attrs["format"] in (b"lvt-articles", "lvt-articles"), f.attrs["format"]
        assert int(f.attrs["dim"]) == V.shape[1]
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    A, D = len(off) - 1, V.shape[1]
    lens = np.diff(off)
    want = {"articles": A, "chunks": V.shape[0], "dim": D, "context_len": L}
    adj_art, adj_pairs = [], []
    prof = [[] for _ in range(L)]
    mean_ctx, trip = [], []
    for a in range(A):
        X = V[off[a]:off[a + 1]]
        if len(X) >= 2:
            c = np.sum(X[1:] * X[:-1], axis=1)
            adj_art.append(c.mean())
            adj_pairs.extend(c)
        for s in range(len(X) - L):
            y = X[s + L]
            for i in range(L):
                prof[i].append(X[s + i] @ y)
            m = X[s:s + L].sum(0)
            mean_ctx.append(m @ y / np.linalg.norm(m))
            trip.append((X[s + L - 2], X[s + L - 1], y, a & 1))
    want["windows"] = len(mean_ctx)
    want["sampled_windows"] = len(mean_ctx)
    want["adjacent_coherence"] = np.mean(adj_art)
    want["adjacent_coherence_pairs"] = np.mean(adj_pairs)
    want["cos_profile"] = [np.mean(p) for p in prof]
    want["copy_last_cos"] = np.mean(prof[-1])
    want["mean_ctx_cos"] = np.mean(mean_ctx)
    want["length"] = {"min": lens.min(), "max": lens.max(), "mean": lens.mean(),
                      "p10": np.percentile(lens, 10), "median": np.median(lens), "p90": np.percentile(lens, 90)}
    # forward signal: antisymmetric lag-1 map fitted on even (odd) articles, scored on the others
    tot = 0.0
    for fit in (0, 1):
        F = [t for t in trip if t[3] == fit]
        E = [t for t in trip if t[3] != fit]
        G = sum(np.outer(t[2], t[1]) for t in F) / len(F)
        As = 0.5 * (G - G.T)
        tot += sum((t[2] - t[0]) @ (As @ t[1]) for t in E)
    x = D * tot / len(trip)
    want["forward_x"] = x
    want["forward_signal"] = np.sign(x) * np.sqrt(abs(x))

    bad = []

    def cmp(name, w, g, tol):
        if g is None or abs(float(w) - float(g)) > tol:
            bad.append(f"{name}: numpy {w} vs lvt {g}")

    for k in ("articles", "chunks", "dim", "context_len", "windows", "sampled_windows"):
        cmp(k, want[k], got[k], 0)
    for k in ("min", "max", "mean", "p10", "median", "p90"):
        cmp("length." + k, want["length"][k], got["length"][k], 1e-6)
    for k in ("adjacent_coherence", "adjacent_coherence_pairs", "copy_last_cos", "mean_ctx_cos"):
        cmp(k, want[k], got[k], 2e-6)
    for i in range(L):
        cmp(f"cos_profile[{i}]", want["cos_profile"][i], got["cos_profile"][i], 2e-6)
    cmp("forward_x", want["forward_x"], got["forward_x"], 2e-4 * max(1.0, abs(want["forward_x"])))
    cmp("forward_signal", want["forward_signal"], got["forward_signal"], 2e-3)
    if bad:
        print("test_synth_ref: MISMATCH\n  " + "\n  ".join(bad))
        return 1
    print(f"test_synth_ref: {path}: all statistics agree (forward_x {x:.5f}, copy-last {want['copy_last_cos']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
