"""p4_objective.py — lvt's P4 objective (loss module) against PyTorch.

The objective of docs/loss.md (as decided in docs/training.md, "The objective as implemented") is
written here in PyTorch, from the spec, on top of reference.py's transformer: for each case the
C driver (test_loss_parity_driver) builds a model and a batch, runs lvt_loss_step with every term
on and writes parameters, batch, logged terms and parameter gradients; here the parameters are
loaded (load_state_dict, strict) into the float64 reference, the same objective is evaluated with
autograd, and compared:
  total loss and every logged term: |lvt - ref| <= 1e-5 * max(|ref|, 1e-3)
  gradients: per tensor max|g_lvt - g_ref| / max|g_ref| <= 1e-4 where max|g_ref| is at least
             1e-3 of the largest tensor's; smaller tensors: max abs diff <= 1e-4 * that largest.
The forward is reference.functional_forward (checked against the nn.Module by
test_model_parity) with lvt's FFN ReLU decisions of each rollout slot, so that pre-activations
within float32 rounding of 0 cannot flip a gradient; the test checks that the decisions differ
only where |h| < 1e-4, and also evaluates the loss with the plain nn.Module.
Usage: p4_objective.py DRIVER TMPDIR [--small | --ref]   (exit 0 pass, 1 fail, 77 skip)
--small runs the reduced-shape cases only, --ref the reference shape (D=768, d=512, 4 layers, B=4).
"""
import json
import os
import subprocess
import sys
import time
from collections import OrderedDict

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover
    print("skip: %s" % exc)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

TERM_RTOL = 1e-5
GRAD_RTOL = 1e-4

SMALL = ["--dim", "64", "--d-model", "32", "--heads", "4", "--layers", "2", "--batch", "16",
         "--perturb", "0.2"]
REF = ["--dim", "768", "--d-model", "512", "--heads", "8", "--layers", "4", "--batch", "4"]
CASES = [
    ("full-flat-batch", SMALL + ["--seed", "7"]),
    ("first-flat-sample", SMALL + ["--seed", "8", "--rollout-grad", "first", "--adaptive", "sample",
                                   "--dir-ref", "last"]),
    ("full-truth-off", SMALL + ["--seed", "9", "--supervise", "truth", "--adaptive", "off",
                                "--rollout-h", "4"]),
    ("first-truth", SMALL + ["--seed", "10", "--supervise", "truth", "--rollout-grad", "first"]),
    ("full-drop-zero", SMALL + ["--seed", "11", "--drop-mode", "zero"]),
    ("full-drop-mean", SMALL + ["--seed", "12", "--drop-mode", "mean", "--rollout-h", "2"]),
    ("full-drop-noise", ["63" if a == "64" else a for a in SMALL]  # odd D: the last pair is cut
     + ["--seed", "13", "--drop-mode", "noise"]),
    ("full-truth-cosine", SMALL + ["--seed", "14", "--supervise", "truth", "--base-loss", "cosine"]),
    ("first-truth-msecos", SMALL + ["--seed", "15", "--supervise", "truth", "--rollout-grad", "first",
                                    "--base-loss", "mse+cosine", "--cosine-weight", "0.7"]),
    ("full-flat-cosine", SMALL + ["--seed", "16", "--base-loss", "cosine"]),
    ("ref-shape-full", REF + ["--seed", "42"]),
]


def load(dirname, name, shape):
    a = np.fromfile(os.path.join(dirname, name), dtype="<f4")
    return torch.tensor(a.astype(np.float64)).reshape(shape)


def cosine(a, b):
    return F.cosine_similarity(a, b, dim=-1, eps=1e-12)


def drop_noise(key, B, D):
    """The noise rows of context drop (ops.h): Box-Muller on Philox draws of site
    LVT_SITE_CONTEXT_NOISE, element pairs (j, j+1), then L2-normalised; from reference.rng_unit."""
    g = np.arange(B, dtype=np.uint64)[:, None] + np.uint64(key["sample_base"])
    e = np.arange(D + (D & 1), dtype=np.uint64)[None, :]
    u = reference.rng_unit(key["seed"], key["step"], key["site_noise"], g, e)
    u1 = np.maximum(u[:, 0::2], 1e-7)
    u2 = u[:, 1::2]
    r = np.sqrt(-2.0 * np.log(u1))
    z = np.empty((B, D + (D & 1)))
    z[:, 0::2] = r * np.cos(2 * np.pi * u2)
    z[:, 1::2] = r * np.sin(2 * np.pi * u2)
    z = z[:, :D]
    return torch.tensor(z / np.linalg.norm(z, axis=1, keepdims=True))


def p4_objective(forward, ctx, y, fut, futm, roll, rollm, o, key=None):
    """docs/loss.md. forward(ctx, slot) -> (raw, p). Returns (total, dict of logged terms)."""
    B, L, D = ctx.shape
    model_ctx = ctx
    mode = o["context_drop_mode"]
    if o["context_drop_p"] >= 1.0:  # deterministic cases only: every sample dropped
        model_ctx = ctx.clone()
        if mode == "noise":
            model_ctx[:, L - 1] = drop_noise(key, B, D)
        else:
            model_ctx[:, L - 1] = 0.0 if mode == "zero" else ctx[:, : L - 1].mean(dim=1)
    elif o["context_drop_p"] > 0:
        raise ValueError("only p = 0 or p = 1 is deterministic")
    raw, p = forward(model_ctx, 0)
    mse = ((raw - y) ** 2).mean()
    cos_y = cosine(p, y)
    # objective.base_loss: w_mse MSE + w_cos mean(1 - cos), on raw (main term) and on p_h (rollout)
    bl = o.get("base_loss", "mse")
    w_mse = 0.0 if bl == "cosine" else 1.0
    w_cos = 1.0 if bl == "cosine" else (o["cosine_weight"] if bl == "mse+cosine" else 0.0)
    base = w_mse * mse + w_cos * (1 - cosine(raw, y)).mean()

    # rollout: unroll H steps; term 1 = the base loss of p_1, term h = flat penalty or truth base loss
    H = o["rollout_h"] if (o["lambda_roll"] > 0 and o["rollout_h"] > 1) else 1
    first = o["rollout_grad"] == "first"
    terms = [w_mse * ((p - y) ** 2).mean() + w_cos * (1 - cosine(p, y)).mean()]
    preds, c = [p], model_ctx
    for h in range(2, H + 1):
        c = torch.cat([c[:, 1:], preds[-1][:, None]], dim=1)
        if first:  # the reference code: steps >= 2 carry no gradient
            with torch.no_grad():
                _, ph = forward(c.detach(), h - 1)
        else:
            _, ph = forward(c, h - 1)
        if o["rollout_supervise"] == "truth":
            m = rollm[:, h - 1]
            sq = w_mse * ((ph - roll[:, h - 1]) ** 2).sum(dim=1) / D + w_cos * (1 - cosine(ph, roll[:, h - 1]))
            n = m.sum()
            terms.append((m * sq).sum() / n if n > 0 else sq.sum() * 0)
        else:
            terms.append(o["flat_scale"] * torch.relu(cosine(preds[-1], ph).mean() - o["flat_threshold"]))
        preds.append(ph)
    l_roll = torch.stack(terms).mean()

    # directional guard against the original context's c3 (prev) or c4 (last)
    ref = ctx[:, L - 2] if o["dir_ref"] == "prev" else ctx[:, L - 1]
    hinge = torch.relu(o["margin_dir"] - (cos_y - cosine(p, ref)))
    sig = torch.sigmoid((cosine(ctx[:, L - 1], y) - 0.60) / 0.05)
    lam = o["lambda_dir"]
    if o["adaptive_dir"] == "batch":
        lam_eff = lam * (1 + sig.mean())
        dir_part = lam_eff * hinge.mean()
    elif o["adaptive_dir"] == "sample":
        lam_eff = lam * (1 + sig.mean())
        dir_part = lam * ((1 + sig) * hinge).mean()
    else:
        lam_eff = torch.tensor(lam, dtype=y.dtype)
        dir_part = lam * hinge.mean()

    # future ranking over the samples whose +2 / +3 rows exist
    l_fut = 0.0
    for k in range(2):
        m = futm[:, k]
        hk = torch.relu(o["margin_fut"] - (cos_y - cosine(p, fut[:, k])))
        l_fut = l_fut + ((m * hk).sum() / m.sum() if m.sum() > 0 else hk.sum() * 0)

    # anti-copy against every context chunk
    l_ac = torch.relu(o["margin_ac"] - (cos_y[:, None] - cosine(p[:, None], ctx))).mean()

    total = (base + o["lambda_roll"] * l_roll + (dir_part if lam > 0 else 0)
             + o["lambda_fut"] * l_fut + o["lambda_ac"] * l_ac)
    logged = {"total": total, "mse": mse, "rollout": l_roll if o["lambda_roll"] > 0 else 0 * mse,
              "dir": hinge.mean() if lam > 0 else 0 * mse, "future": l_fut if o["lambda_fut"] > 0 else 0 * mse,
              "anticopy": l_ac if o["lambda_ac"] > 0 else 0 * mse, "cos": cos_y.mean(),
              "lambda_dir_eff": lam_eff if lam > 0 else 0 * mse}
    return total, logged


def run_case(name, driver, args, tmp):
    out = os.path.join(tmp, name)
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    subprocess.run([driver, "--out", out] + args, check=True)
    t_c = time.time() - t0
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    B, L, D, o = meta["batch"], meta["context_len"], meta["dim"], meta["objective"]
    H = max(1, o["rollout_h"])
    nh, nl, F_ = meta["n_heads"], meta["n_layers"], meta["ffn"]
    flat = np.fromfile(os.path.join(out, "params.f32"), dtype="<f4").astype(np.float64)
    gflat = np.fromfile(os.path.join(out, "grads.f32"), dtype="<f4").astype(np.float64)
    sd, g_lvt = OrderedDict(), OrderedDict()
    for t in meta["tensors"]:
        n = int(np.prod(t["shape"]))
        sd[t["name"]] = torch.tensor(flat[t["offset"]:t["offset"] + n]).reshape(t["shape"])
        g_lvt[t["name"]] = torch.tensor(gflat[t["offset"]:t["offset"] + n]).reshape(t["shape"])
    ctx = load(out, "ctx.f32", (B, L, D))
    y = load(out, "y.f32", (B, D))
    fut, futm = load(out, "fut.f32", (B, 2, D)), load(out, "futm.f32", (B, 2))
    roll, rollm = load(out, "roll.f32", (B, H, D)), load(out, "rollm.f32", (B, H))
    # lvt's FFN activations; the last layer computes position L-1 only ([B, F] at the start of
    # its buffer, which the driver writes), the other positions of that layer do not reach the output
    patterns = {}
    for s in range(meta["slots"]):
        for ly in range(nl):
            a = np.fromfile(os.path.join(out, "ffn_%d_%d.f32" % (s, ly)), dtype="<f4")
            if ly == nl - 1:
                patterns[(s, ly)] = torch.tensor(a.reshape(B, 1, F_) > 0, dtype=torch.float64)
            else:
                patterns[(s, ly)] = torch.tensor(a.reshape(B, L, F_) > 0, dtype=torch.float64)
    failures = []

    # the nn.Module accepts lvt's parameters under their names
    model = reference.LVMTransformer(D, meta["d_model"], nh, nl, F_, 0.0).double()
    model.load_state_dict(sd, strict=True)
    model.eval()

    params = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in sd.items())
    flips = [0]

    def fwd_pattern(c, slot):
        rec = {}
        with torch.no_grad():
            reference.functional_forward(params, c, nh, nl, record=rec)
        pat = {}
        for ly in range(nl):
            h = rec[ly] if ly < nl - 1 else rec[ly][:, L - 1:]
            differ = (h > 0).double() != patterns[(slot, ly)]
            flips[0] += int(differ.sum())
            if bool((differ & (h.abs() > 1e-4)).any()):
                failures.append("slot %d layer %d: lvt's ReLU pattern differs where |h| > 1e-4" % (slot, ly))
            pat[ly] = patterns[(slot, ly)]
            if ly == nl - 1:  # positions < L-1 of the last layer: the float64 decision
                pat[ly] = torch.cat([(rec[ly][:, :L - 1] > 0).double(), pat[ly]], dim=1)
        return reference.functional_forward(params, c, nh, nl, relu_pattern=pat)

    total, logged = p4_objective(fwd_pattern, ctx, y, fut, futm, roll, rollm, o, meta["key"])
    total.backward()
    with torch.no_grad():
        total_m, _ = p4_objective(lambda c, s: model(c), ctx, y, fut, futm, roll, rollm, o, meta["key"])

    worst_term = 0.0
    for k, v in logged.items():
        ref, got = float(v), meta["terms"][k]
        dev = abs(got - ref) / max(abs(ref), 1e-3)
        worst_term = max(worst_term, dev)
        if not dev <= TERM_RTOL:
            failures.append("term %s: lvt %.9g, torch %.9g (rel %.2g)" % (k, got, ref, dev))
    dev_m = abs(float(total_m) - meta["terms"]["total"]) / abs(float(total_m))
    if not dev_m <= TERM_RTOL:
        failures.append("total vs nn.Module: rel %.2g" % dev_m)
    for k in ("rollout", "dir", "future", "anticopy"):
        if not abs(float(logged[k])) > 1e-6:
            failures.append("term %s is zero: the case does not exercise it" % k)

    gmax = max(params[k].grad.abs().max().item() for k in sd)
    worst_rel, worst_name, n_sig = 0.0, "", 0
    for k in sd:
        g_ref = params[k].grad
        diff = (g_lvt[k] - g_ref).abs().max().item()
        scale = g_ref.abs().max().item()
        if scale >= 1e-3 * gmax:
            n_sig += 1
            rel = diff / scale
            if rel > worst_rel:
                worst_rel, worst_name = rel, k
            if not rel <= GRAD_RTOL:
                failures.append("%s: gradient rel diff %.3g > %.0e" % (k, rel, GRAD_RTOL))
        elif not diff <= GRAD_RTOL * gmax:
            failures.append("%s: small gradient abs diff %.3g" % (k, diff))
    print("%-18s B=%d D=%d d=%d layers=%d H=%d base=%s %s/%s/%s/%s drop=%s: loss %.6f, terms worst rel %.1e "
          "(nn.Module total %.1e); grads worst rel %.1e (%s) over %d tensors; ReLU flips %d; "
          "lvt %.1fs, total %.1fs"
          % (name, B, D, meta["d_model"], nl, H, o.get("base_loss", "mse"), o["rollout_grad"], o["rollout_supervise"],
             o["adaptive_dir"], o["dir_ref"], o["context_drop_mode"] if o["context_drop_p"] > 0 else "off",
             meta["terms"]["total"], worst_term, dev_m, worst_rel, worst_name.replace("transformer_decoder.", ""),
             n_sig, flips[0], t_c, time.time() - t0))
    return failures


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 1
    driver, tmp = sys.argv[1], sys.argv[2]
    small = "--small" in sys.argv[3:]
    ref = "--ref" in sys.argv[3:]
    torch.set_num_threads(2)
    bad = 0
    for name, args in CASES:
        if (small and name.startswith("ref")) or (ref and not name.startswith("ref")):
            continue
        for f in run_case(name, driver, args, tmp):
            print("FAIL %s: %s" % (name, f))
            bad += 1
    print("p4_objective: %s" % ("FAILED" if bad else "all cases passed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
