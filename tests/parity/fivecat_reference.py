#!/usr/bin/env python3
"""fivecat_reference.py — numpy recomputation of the 5CAT battery (docs/eval.md) from
a dump written by lvt_eval_run (lvt_eval_opts.dump_path).

usage: fivecat_reference.py DUMP.h5 [MAX_SAMPLES]

The dump holds the store, the selected windows, every prediction the C battery made (unmodified
context, the five ablations, the rollout steps), the shuffle permutations and leave-one-out
slots, and the metrics C computed. This script checks, independently of the C code:
  * the window selection: every window is valid, indices are distinct, the count is the budget;
  * the ablation contexts and the rollout feeding: for the baselines it knows (copy-last, mean,
    weighted[w0,..]) it rebuilds every modified context and recomputes every prediction;
  * every metric A..E, recomputed in float64 from the dumped predictions, agrees to 1e-4.
Exit 0 when everything agrees, 1 otherwise (each disagreement printed).
"""
import json
import sys

import h5py
import numpy as np

TOL = 1e-4
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("MISMATCH:", what)


def close(a, b, what, tol=TOL):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = a.shape == b.shape and np.all(np.abs(a - b) <= tol)
    check(ok, f"{what}: C {a} vs numpy {b}")


def cos_rows(a, b):
    """cosine of matching rows (float64), 0 where a row is zero."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    den = na * nb
    return np.where(den > 0, np.sum(a * b, axis=-1) / np.where(den > 0, den, 1), 0.0)


def baseline(name, ctx):
    """recompute a known predictor on contexts [n, L, D] (float32 like the C code)."""
    if name == "copy-last":
        return ctx[:, -1, :].astype(np.float32)
    if name == "mean":
        m = ctx.astype(np.float64).mean(axis=1)
        return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)
    if name.startswith("weighted"):
        w = np.array(json.loads(name[len("weighted"):]), dtype=np.float64)
        m = np.einsum("t,ntd->nd", w, ctx.astype(np.float64))
        return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)
    return None


def main():
    path = sys.argv[1]
    budget = int(sys.argv[2]) if len(sys.argv) > 2 else None
    with h5py.File(path, "r") as f:
        V = f["vectors"][...]
        off = f["article_offsets"][...]
        win = f["windows"][...]
        pred = f["pred"][...]
        abl = {k: f["pred_" + k][...] for k in
               ("shuffled", "reversed", "leave_one_out", "repeat_last", "last_first")}
        perm = f["perm"][...]
        loo = f["loo_slot"][...]
        roll = f["roll"][...]
        roll_mask = f["roll_mask"][...]
        name = f.attrs["predictor"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        L, H, _seed, tests = (int(x) for x in f.attrs["settings_L_H_seed_tests"])
        counts = f.attrs["counts_windows_selected_a_b_c_d_e"]
        c_a = f.attrs["a_cos"]
        c_margin = f.attrs["a_margin"][0]
        c_b = f.attrs["b_r1_r5_mrr_meanrank"]
        c_c = f.attrs["c_base_shuf_rev_loo_replast_lastfirst"]
        c_d = f.attrs["d_cos_then_per_h"]
        c_e = f.attrs["e_cos_cohmean"]
    assert tests == 31, "the reference expects a dump of the full battery"
    n = win.shape[0]

    # ---- the selection ----
    all_w = []
    for a in range(len(off) - 1):
        for r in range(off[a], off[a + 1] - L):
            all_w.append((a, r, off[a + 1]))
    check(counts[0] == len(all_w), f"window count {counts[0]} vs {len(all_w)}")
    want = len(all_w) if not budget or budget >= len(all_w) else budget
    check(n == want and counts[1] == n, f"selected {n} windows, budget wants {want}")
    check(len(set(win[:, 0].tolist())) == n, "selected windows are not distinct")
    for idx, a, r0, end in win:
        check(0 <= idx < len(all_w) and tuple(all_w[idx]) == (a, r0, end),
              f"window {idx} is ({a},{r0},{end}), enumeration says {all_w[idx] if idx < len(all_w) else None}")

    # ---- contexts, ablations, rollout feeding ----
    ctx = np.stack([V[r0:r0 + L] for r0 in win[:, 2]])          # [n, L, D]
    y = V[win[:, 2] + L]                                            # [n, D]
    for i in range(n):
        check(sorted(perm[i].tolist()) == list(range(L)) and perm[i].tolist() != list(range(L)),
              f"perm {perm[i]} of window {i} is not a non-identity permutation")
        check(0 <= loo[i] < L, f"leave-one-out slot {loo[i]}")
    mods = {
        "shuffled": np.stack([ctx[i][perm[i]] for i in range(n)]),
        "reversed": ctx[:, ::-1],
        "leave_one_out": np.stack([np.concatenate([np.delete(ctx[i], loo[i], axis=0),
                                                   np.delete(ctx[i], loo[i], axis=0)[-1:]])
                                   for i in range(n)]),
        "repeat_last": np.repeat(ctx[:, -1:], L, axis=1),
        "last_first": np.concatenate([ctx[:, :-1], ctx[:, :1]], axis=1),
    }
    has_roll = win[:, 2] + L + H - 1 < win[:, 3]
    check(np.array_equal(roll_mask.astype(bool), has_roll), "rollout mask")
    ref = baseline(name, ctx)
    if ref is not None:
        close(np.abs(pred - ref).max(), 0.0, f"{name}: predictions", 1e-5)
        for k, m in mods.items():
            close(np.abs(abl[k] - baseline(name, m)).max(), 0.0, f"{name}: {k} predictions", 1e-5)
        rc = ctx[has_roll].copy()
        for h in range(H):
            ph = baseline(name, rc)
            close(np.abs(roll[has_roll, h] - ph).max() if len(ph) else 0.0, 0.0,
                  f"{name}: rollout step {h + 1} predictions", 1e-5)
            rc = np.concatenate([rc[:, 1:], ph[:, None, :]], axis=1)
    else:
        print(f"(predictor {name} unknown to the reference: metrics only)")
    close(np.abs(roll[has_roll, 0] - pred[has_roll]).max() if has_roll.any() else 0.0, 0.0,
          "rollout step 1 is the unmodified prediction", 0.0)

    # ---- metrics from the dumped predictions ----
    last = win[:, 2] + L - 1
    start = off[win[:, 1]]
    has_a = (last - 3 >= start) & (last + 3 < win[:, 3])
    sweep = np.stack([cos_rows(pred, V[np.minimum(last + k, len(V) - 1)]) for k in range(-3, 4)], 1)
    a_cos = sweep[has_a].mean(axis=0)
    margin = a_cos[4] - np.max(np.delete(a_cos, 4))
    check(counts[2] == has_a.sum(), "A count")
    close(c_a, a_cos, "A cos(-3..+3)")
    close(c_margin, margin, "A margin")

    ranks = []
    for i in range(n):
        a = win[i, 1]
        if off[a + 1] - off[a] < 6:
            continue
        sc = cos_rows(np.broadcast_to(pred[i], (off[a + 1] - off[a], V.shape[1])), V[off[a]:off[a + 1]])
        t = win[i, 2] + L - off[a]
        ranks.append(1 + int(np.sum(np.delete(sc, t) >= sc[t])))
    ranks = np.array(ranks, dtype=np.float64)
    check(counts[3] == len(ranks), "B count")
    close(c_b, [np.mean(ranks == 1), np.mean(ranks <= 5), np.mean(1 / ranks), np.mean(ranks)],
          "B R@1, R@5, MRR, mean rank")

    base = cos_rows(pred, y)
    deltas = [np.mean(cos_rows(abl[k], y) - base) for k in
              ("shuffled", "reversed", "leave_one_out", "repeat_last", "last_first")]
    check(counts[4] == n, "C count")
    close(c_c, [base.mean()] + deltas, "C base cos and deltas")

    truth = np.stack([V[np.minimum(win[:, 2] + L + h, len(V) - 1)] for h in range(H)], 1)
    per_h = np.array([cos_rows(roll[has_roll, h], truth[has_roll, h]).mean() for h in range(H)])
    check(counts[5] == has_roll.sum(), "D count")
    close(c_d, np.concatenate([[per_h.mean()], per_h]), "D rollout cos (mean, per h)")

    coh = np.mean(np.stack([cos_rows(ctx[:, j], ctx[:, j + 1]) for j in range(L - 1)], 1), axis=1)
    band = (coh >= 0.45) & (coh <= 0.55)
    check(counts[6] == band.sum(), f"E count {counts[6]} vs {band.sum()}")
    close(c_e, [base[band].mean(), coh.mean()], "E band cos, mean coherence")

    print(f"fivecat_reference: {name}: {n} windows, A {has_a.sum()} B {len(ranks)} "
          f"D {has_roll.sum()} E {band.sum()}: {'OK' if not failures else 'FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
