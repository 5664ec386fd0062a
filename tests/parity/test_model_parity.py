"""test_model_parity.py — lvt's transformer against the PyTorch reference (tests/parity/reference.py).

For each case the C driver (model_parity_driver) initialises a model, runs forward + backward of
loss = mean((raw - y)^2) + 0.5 * mean((pred - y)^2) and writes params/inputs/outputs/gradients.
Here the parameters are loaded with load_state_dict(strict=True) into LVMTransformer (float64),
and lvt's outputs, parameter gradients and context gradient are compared:
  outputs (raw, pred): max abs diff <= 1e-5
  gradients: per tensor max|g_lvt - g_ref| / max|g_ref| <= 1e-4 where max|g_ref| is at least
             1e-3 of the largest tensor's; smaller tensors: max abs diff <= 1e-4 * that largest
Outputs are compared with PyTorch's nn.Module (eval cases) and, with gradients, with
reference.functional_forward, the same math written out (checked against the nn.Module's
outputs and gradients in the eval cases) that takes lvt's dropout masks, rebuilt from its Philox
key by an independent numpy Philox (train cases), and lvt's ReLU decisions (pre-activations
within float32 rounding of 0 would otherwise flip a whole row of the gradient; the test checks
that the decisions differ only where |h| < 1e-4).
Usage: test_model_parity.py DRIVER TMPDIR   (exit 0 pass, 1 fail, 77 skip)
"""
import json
import os
import subprocess
import sys
from collections import OrderedDict

try:
    import numpy as np
    import torch
except ImportError as exc:  # pragma: no cover
    print("skip: %s" % exc)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

OUT_TOL = 1e-5
GRAD_RTOL = 1e-4

CASES = [
    # name, driver args
    ("small-eval", ["--dim", "24", "--d-model", "16", "--heads", "4", "--layers", "2",
                    "--batch", "5", "--seed", "3", "--dropout", "0.2", "--train", "0",
                    "--perturb", "0.3"]),
    ("small-train", ["--dim", "24", "--d-model", "16", "--heads", "4", "--layers", "2",
                     "--batch", "5", "--seed", "4", "--dropout", "0.2", "--train", "1",
                     "--perturb", "0.3"]),
    ("ref-eval", ["--dim", "768", "--d-model", "512", "--heads", "8", "--layers", "4",
                  "--batch", "6", "--seed", "42", "--dropout", "0.1", "--train", "0"]),
    ("ref-train", ["--dim", "768", "--d-model", "512", "--heads", "8", "--layers", "4",
                   "--batch", "4", "--seed", "43", "--dropout", "0.1", "--train", "1"]),
]


def load(dirname, name, shape):
    a = np.fromfile(os.path.join(dirname, name), dtype="<f4")
    return torch.from_numpy(a.astype(np.float64)).reshape(shape)


def run_case(name, driver, args, tmp):
    out = os.path.join(tmp, name)
    os.makedirs(out, exist_ok=True)
    subprocess.run([driver, "--out", out] + args, check=True)
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    B, L, D = meta["batch"], meta["context_len"], meta["dim"]
    flat = np.fromfile(os.path.join(out, "params.f32"), dtype="<f4").astype(np.float64)
    gflat = np.fromfile(os.path.join(out, "grads.f32"), dtype="<f4").astype(np.float64)
    sd, g_lvt = OrderedDict(), OrderedDict()
    for t in meta["tensors"]:
        n = int(np.prod(t["shape"]))
        sd[t["name"]] = torch.from_numpy(flat[t["offset"]:t["offset"] + n]).reshape(t["shape"])
        g_lvt[t["name"]] = torch.from_numpy(gflat[t["offset"]:t["offset"] + n]).reshape(t["shape"])
    ctx = load(out, "ctx.f32", (B, L, D)).requires_grad_(True)
    y = load(out, "y.f32", (B, D))
    raw_lvt, pred_lvt = load(out, "raw.f32", (B, D)), load(out, "pred.f32", (B, D))
    dctx_lvt = load(out, "dctx.f32", (B, L, D))

    F_ = meta["ffn"]
    masks = reference.lvt_masks(meta) if meta["train"] else None
    p = meta["dropout"]
    nh, nl = meta["n_heads"], meta["n_layers"]
    # lvt's ReLU decisions (the last layer computes position L-1 only; its other positions take
    # the reference's own decisions, they do not reach the output)
    record = {}
    with torch.no_grad():
        raw_np, _ = reference.functional_forward(sd, ctx, nh, nl, masks, p, record=record)
    pattern = {}
    for l in range(nl):
        if l < nl - 1:
            pattern[l] = (load(out, "ffn%d.f32" % l, (B, L, F_)) > 0).double()
        else:
            pattern[l] = (record[l] > 0).double()
            pattern[l][:, L - 1] = (load(out, "ffn%d.f32" % l, (B, F_)) > 0).double()

    model = reference.LVMTransformer(D, meta["d_model"], nh, nl, F_, p).double()
    failures = []
    ref_names = list(model.state_dict().keys())
    if ref_names != list(sd.keys()):
        failures.append("state_dict names/order differ: %s" %
                        [(a, b) for a, b in zip(ref_names, sd.keys()) if a != b][:3])
    model.load_state_dict(sd, strict=True)  # raises on any missing/unexpected/shape mismatch
    model.eval()

    def mse(raw, pred):
        return ((raw - y) ** 2).mean() + 0.5 * ((pred - y) ** 2).mean()

    # lvt's ReLU decisions agree with the float64 ones except within rounding of 0
    flips = 0
    for l in range(nl):
        ref_pat = (record[l] > 0).double()
        if masks is not None:
            ref_pat = ref_pat * masks[(l, 3)]
        differ = ref_pat != pattern[l]
        flips += int(differ.sum())
        if bool((differ & (record[l].abs() > 1e-4)).any()):
            failures.append("layer %d: lvt's ReLU pattern differs where |h| > 1e-4" % l)

    if masks is not None:
        drawn = [m if l < nl - 1 else (m[:, :, L - 1] if k >= 5 else m[:, L - 1])
                 for (l, k), m in masks.items()]  # the last layer draws position L-1 only
        kept = np.mean([m.mean().item() for m in drawn])
        if not abs(kept - (1 - p)) < 0.05:
            failures.append("rebuilt masks keep %.3f, expected about %.3f" % (kept, 1 - p))
        with torch.no_grad():  # the same forward without dropout must give another output
            raw_eval, _ = reference.functional_forward(sd, ctx, nh, nl)
        if (raw_eval - raw_np).abs().max().item() < 1e-3:
            failures.append("dropout had no effect in the train case")
    else:
        # eval: PyTorch's own modules give lvt's outputs, and the written-out functional form
        # equals the nn.Module in outputs and in every gradient
        ctx_m = ctx.detach().clone().requires_grad_(True)
        raw_m, pred_m = model(ctx_m)
        for what, a, b in (("raw", raw_m, raw_lvt), ("pred", pred_m, pred_lvt)):
            dev = (a.detach() - b).abs().max().item()
            if not dev <= OUT_TOL:
                failures.append("nn.Module %s max abs diff %.3g > %.0e" % (what, dev, OUT_TOL))
        mse(raw_m, pred_m).backward()
        params_f = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in sd.items())
        ctx_f = ctx.detach().clone().requires_grad_(True)
        raw_f, pred_f = reference.functional_forward(params_f, ctx_f, nh, nl)
        mse(raw_f, pred_f).backward()
        named = dict(model.named_parameters())
        dev = (raw_f - raw_m).abs().max().item()
        gdev = max([(named[k].grad - params_f[k].grad).abs().max().item() /
                    max(named[k].grad.abs().max().item(), 1e-300) for k in sd] +
                   [(ctx_m.grad - ctx_f.grad).abs().max().item() / ctx_m.grad.abs().max().item()])
        if not (dev <= 1e-10 and gdev <= 1e-8):
            failures.append("functional reference deviates from nn.Module: out %.3g, grad rel %.3g"
                            % (dev, gdev))

    # lvt against the float64 reference with lvt's masks and ReLU decisions
    params = OrderedDict((k, v.requires_grad_(True)) for k, v in sd.items())  # sd's last use
    raw, pred = reference.functional_forward(params, ctx, nh, nl, masks, p, relu_pattern=pattern)
    grad_of = lambda k: params[k].grad  # noqa: E731
    loss = ((raw - y) ** 2).mean() + 0.5 * ((pred - y) ** 2).mean()
    loss.backward()

    d_raw = (raw.detach() - raw_lvt).abs().max().item()
    d_pred = (pred.detach() - pred_lvt).abs().max().item()
    d_loss = abs(loss.item() - meta["loss"])
    if not d_raw <= OUT_TOL:
        failures.append("raw max abs diff %.3g > %.0e" % (d_raw, OUT_TOL))
    if not d_pred <= OUT_TOL:
        failures.append("pred max abs diff %.3g > %.0e" % (d_pred, OUT_TOL))

    gmax = max(grad_of(k).abs().max().item() for k in sd)
    worst_rel, worst_name, n_sig = 0.0, "", 0
    for k in sd:
        g_ref = grad_of(k)
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
    dctx_ref = ctx.grad
    rel_ctx = (dctx_lvt - dctx_ref).abs().max().item() / dctx_ref.abs().max().item()
    if not rel_ctx <= GRAD_RTOL:
        failures.append("dctx rel diff %.3g > %.0e" % (rel_ctx, GRAD_RTOL))
    print("%-11s B=%d D=%d d=%d layers=%d: |raw| %.2e |pred| %.2e |loss| %.2e; grads: worst rel "
          "%.2e (%s) over %d tensors; dctx rel %.2e; ReLU flips at |h|<1e-4: %d" %
          (name, B, D, meta["d_model"], meta["n_layers"], d_raw, d_pred, d_loss, worst_rel,
           worst_name, n_sig, rel_ctx, flips))
    return failures


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 1
    driver, tmp = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    bad = 0
    for name, args in CASES:
        for f in run_case(name, driver, args, tmp):
            print("FAIL %s: %s" % (name, f))
            bad += 1
    print("test_model_parity: %s" % ("FAILED" if bad else "all cases passed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
