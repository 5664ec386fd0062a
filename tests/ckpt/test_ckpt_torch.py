"""test_ckpt_torch.py — checkpoints and safetensors against PyTorch (tests/parity/reference.py).

1. `lvt init` + `lvt export`: the safetensors (parsed by hand here, no safetensors package)
   loads with load_state_dict(strict=True) into reference.LVMTransformer, bit-identical to the
   checkpoint's /params (h5py); header layout (8-byte alignment, model order, __metadata__).
2. A safetensors written by hand from a PyTorch model's state_dict (F32 with n_heads metadata;
   F32 without metadata (n_heads defaults to 8); F16; BF16) is imported by `lvt predict` and gives
   PyTorch's eval-mode predictions: max abs diff <= 1e-5 (F16/BF16: vs the rounded weights).
3. `lvt predict` over an article store (.h5 output with /window_article, /window_row) and over
   a .npy of contexts, from the .h5 checkpoint, against PyTorch on the same windows.
4. One optimiser step after clipping (test_ckpt_step: forward, MSE on raw, backward, global-norm
   clip, AdamW) against torch (clip_grad_norm_ + torch.optim.AdamW, float64 gradients): the
   pre-clip norm within 1e-4 relative, parameters within 1e-6 absolute (see below for why the
   elements with ~zero gradient are compared with a looser bound).
5. CLI failures: one line on stderr, exit 1, existing outputs untouched.
usage: test_ckpt_torch.py LVT_BIN STEP_DRIVER TMPDIR   (exit 0 pass, 1 fail, 77 skip)
"""
import json
import os
import struct
import subprocess
import sys
from collections import OrderedDict

try:
    import h5py
    import numpy as np
    import torch
except ImportError as exc:  # pragma: no cover
    print("skip: %s" % exc)
    sys.exit(77)

SRC = os.environ.get("LVT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "parity"))
try:
    import reference  # noqa: E402
except ImportError as exc:
    print("skip: tests/parity/reference.py not available (%s)" % exc)
    sys.exit(77)

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL: " + msg)
    return cond


def run(args, expect_rc=0):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != expect_rc:
        check(False, "%s: exit %d (expected %d)\nstdout: %s\nstderr: %s" % (" ".join(args), p.returncode,
                                                                         expect_rc, p.stdout, p.stderr))
    return p


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out = OrderedDict()
    for name, h in header.items():
        assert h["dtype"] == "F32", h
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"]).copy()
    return out, meta, n


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """The safetensors format by hand: u64 header length, JSON header, raw little-endian data."""
    header = OrderedDict()
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs, off = [], 0
    np_dt = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}[dtype]  # BF16: arrays of raw uint16 bits
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np_dt).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def torch_predict(model, ctx):
    model.eval()
    with torch.no_grad():
        _, pred = model(torch.tensor(ctx, dtype=torch.float64))
    return pred.numpy()


def read_npy_f32(path):
    a = np.load(path)
    check(a.dtype == np.float32, "%s: dtype %s" % (path, a.dtype))
    return a


def main():
    lvt, driver, tmp = sys.argv[1], sys.argv[2], os.path.join(sys.argv[3], "test_ckpt_torch")
    os.makedirs(tmp, exist_ok=True)
    torch.set_num_threads(2)
    D, d, H, NL, L = 24, 16, 4, 2, 5
    cfg_path = os.path.join(tmp, "cfg.json")
    with open(cfg_path, "w") as f:
        json.dump({"model": {"dim": D, "d_model": d, "n_heads": H, "n_layers": NL, "ffn_mult": 4,
                             "dropout": 0.1}, "data": {"context_len": L}}, f)

    # ---- 1. init + export -> load_state_dict(strict) -------------------------------------------
    ck = os.path.join(tmp, "init.h5")
    st = os.path.join(tmp, "init.safetensors")
    run([lvt, "init", cfg_path, "--out", ck, "--seed", "11"])
    run([lvt, "export", ck, "--out", st])
    tensors, meta, hlen = read_safetensors(st)
    # init is deterministic in the seed and the seed matters
    for seed, same in (("11", True), ("12", False)):
        ck2 = os.path.join(tmp, "init_%s.h5" % seed)
        run([lvt, "init", cfg_path, "--out", ck2, "--seed", seed])
        with h5py.File(ck2, "r") as f:
            w = f["params"]["input_proj.weight"][()]
        check(np.array_equal(w, tensors["input_proj.weight"]) == same,
              "init --seed %s: weights %s the seed-11 weights" % (seed, "differ from" if same else "equal"))
    st2 = os.path.join(tmp, "init_positional.safetensors")
    run([lvt, "export", ck, st2])  # docs/checkpoints.md spelling: positional output
    check(os.path.exists(st2) and open(st2, "rb").read() == open(st, "rb").read(),
          "export with a positional output differs from --out")
    check((8 + hlen) % 8 == 0, "data section not 8-byte aligned")
    check(meta.get("n_heads") == str(H) and meta.get("dim") == str(D), "metadata %r" % meta)
    model = reference.LVMTransformer(D, d, H, NL, 4 * d, 0.1).double()
    sd = OrderedDict((k, torch.tensor(v, dtype=torch.float64)) for k, v in tensors.items())
    try:
        model.load_state_dict(sd, strict=True)
        check(True, "")
    except RuntimeError as exc:
        check(False, "load_state_dict(strict=True) failed: %s" % exc)
    check(list(tensors.keys()) == list(model.state_dict().keys()),
          "tensor order differs from the module's state_dict order")
    with h5py.File(ck, "r") as f:
        check(f.attrs["format"] in ("lvt-checkpoint", b"lvt-checkpoint"), "format attribute")
        for k, v in tensors.items():
            check(np.array_equal(f["params"][k][()], v), "export differs from /params/%s" % k)
        check(int(f.attrs["step"]) == 0 and int(f.attrs["has_optim"]) == 0, "init step/has_optim")
        cfgtxt = f["config"][()]
        cfgtxt = cfgtxt.decode() if isinstance(cfgtxt, bytes) else cfgtxt
        check(json.loads(cfgtxt)["model"]["d_model"] == d, "resolved config in the checkpoint")
    # predictions of the lvt-initialised model: .npy contexts, from the .h5 and the .safetensors
    rng = np.random.default_rng(5)
    N = 37
    ctx = rng.standard_normal((N, L, D)).astype(np.float32)
    ctx /= np.linalg.norm(ctx, axis=-1, keepdims=True)
    np.save(os.path.join(tmp, "ctx.npy"), ctx)
    ref = torch_predict(model, ctx)
    for src in (ck, st):
        out = os.path.join(tmp, "pred_init.npy")
        run([lvt, "predict", "--model", src, "--data", os.path.join(tmp, "ctx.npy"), "--out", out,
             "--batch", "8"])
        p = read_npy_f32(out)
        diff = float(np.abs(p - ref).max()) if p.shape == ref.shape else 1e9
        print("predict (%s, lvt init): max abs diff %.3g" % (os.path.basename(src), diff))
        check(diff <= 1e-5, "predict from %s differs from PyTorch by %g" % (src, diff))

    # ---- 2. PyTorch-written safetensors -> lvt predict ---------------------------------------------
    for case in ("f32-meta", "f32-nometa", "f16", "bf16"):
        torch.manual_seed({"f32-meta": 1, "f32-nometa": 2, "f16": 3, "bf16": 4}[case])
        heads = 8 if case == "f32-nometa" else H
        tm = reference.LVMTransformer(D, d, heads, NL, 4 * d, 0.1)
        # perturb the LayerNorms and zero biases so every tensor matters
        with torch.no_grad():
            for k, v in tm.named_parameters():
                if "norm" in k or k.startswith("head.2") or k.endswith("bias"):
                    v.add_(0.1 * torch.randn_like(v))
        sdict = OrderedDict((k, v.detach().numpy()) for k, v in tm.state_dict().items())
        if case == "f16":
            sdict = OrderedDict((k, v.astype(np.float16)) for k, v in sdict.items())
            tm.load_state_dict(OrderedDict((k, torch.tensor(v.astype(np.float32))) for k, v in sdict.items()))
        if case == "bf16":
            bf = OrderedDict((k, torch.tensor(v).to(torch.bfloat16)) for k, v in sdict.items())
            tm.load_state_dict(OrderedDict((k, v.float()) for k, v in bf.items()))
            sdict = OrderedDict((k, v.view(torch.int16).numpy().view(np.uint16)) for k, v in bf.items())
        # a different key order than the model's: lvt must look names up, not rely on order
        keys = list(sdict.keys())[::-1]
        sdict = OrderedDict((k, sdict[k]) for k in keys)
        meta_arg = {"n_heads": str(heads), "format": "pt"} if case != "f32-nometa" else None
        path = os.path.join(tmp, "torch_%s.safetensors" % case)
        write_safetensors(path, sdict, {"f16": "F16", "bf16": "BF16"}.get(case, "F32"), meta_arg)
        out = os.path.join(tmp, "pred_%s.npy" % case)
        run([lvt, "predict", "--model", path, "--data", os.path.join(tmp, "ctx.npy"), "--out", out])
        ref = torch_predict(tm.double(), ctx)
        p = read_npy_f32(out)
        diff = float(np.abs(p - ref).max()) if p.shape == ref.shape else 1e9
        print("predict (PyTorch-written %s): max abs diff %.3g" % (case, diff))
        check(diff <= 1e-5, "%s: lvt predictions differ from PyTorch by %g" % (case, diff))

    # ---- 3. predict over an article store -------------------------------------------------------------
    store = os.path.join(tmp, "store.h5")
    lens = [3, 9, 6, 12, 5, 8]
    offs = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    vec = rng.standard_normal((int(offs[-1]), D)).astype(np.float32) * 3.0
    with h5py.File(store, "w") as f:
        f["vectors"] = vec
        f["article_offsets"] = offs
        f["article_ids"] = np.arange(100, 100 + len(lens), dtype=np.int64)
        f.attrs["format"] = "lvt-articles"
        f.attrs["version"] = 1
        f.attrs["dim"] = np.int64(D)
        f.attrs["normalized"] = 0
        f.attrs["source"] = "test_ckpt_torch"
    out = os.path.join(tmp, "pred_store.h5")
    run([lvt, "predict", "--model", ck, "--data", store, "--out", out, "--batch", "4"])
    unit = vec / np.linalg.norm(vec, axis=-1, keepdims=True)
    want_a, want_r = [], []
    for a in range(len(lens)):
        for s in range(offs[a], offs[a + 1] - L):
            want_a.append(a)
            want_r.append(s)
    if check(os.path.exists(out), "no store prediction output"):
        with h5py.File(out, "r") as f:
            p = f["predictions"][()]
            wa, wr = f["window_article"][()], f["window_row"][()]
        check(list(wa) == want_a and list(wr) == want_r, "window index %s %s" % (list(wa), list(wr)))
        ctx_s = np.stack([unit[r:r + L] for r in want_r]).astype(np.float32)
        ref = torch_predict(model, ctx_s)
        diff = float(np.abs(p - ref).max()) if p.shape == ref.shape else 1e9
        print("predict (store, %d windows): max abs diff %.3g" % (len(want_r), diff))
        check(diff <= 1e-5, "store predictions differ from PyTorch by %g" % diff)

    # ---- 4. one optimiser step after clipping --------------------------------------------------------
    B = 6
    torch.manual_seed(9)
    tm = reference.LVMTransformer(D, d, H, NL, 4 * d, 0.1)
    with torch.no_grad():
        for k, v in tm.named_parameters():
            if "norm" in k or k.startswith("head.2") or k.endswith("bias"):
                v.add_(0.1 * torch.randn_like(v))
    sdict = OrderedDict((k, v.detach().numpy().copy()) for k, v in tm.state_dict().items())
    path = os.path.join(tmp, "step_in.safetensors")
    write_safetensors(path, sdict, "F32", {"n_heads": str(H)})
    cs = rng.standard_normal((B, L, D)).astype(np.float32)
    ys = (3.0 * rng.standard_normal((B, D))).astype(np.float32)
    cs.tofile(os.path.join(tmp, "step_ctx.bin"))
    ys.tofile(os.path.join(tmp, "step_y.bin"))
    lr, wd, clip = 1e-3, 0.01, 0.5
    step_out = os.path.join(tmp, "step_out.safetensors")
    p = run([driver, path, os.path.join(tmp, "step_ctx.bin"), os.path.join(tmp, "step_y.bin"), str(B),
             step_out, repr(lr), repr(wd), repr(clip)])
    if p.returncode == 0:
        lvt_norm = float(p.stdout.split()[0])
        t64 = reference.LVMTransformer(D, d, H, NL, 4 * d, 0.1).double()
        t64.load_state_dict(OrderedDict((k, torch.tensor(v, dtype=torch.float64)) for k, v in sdict.items()))
        t64.eval()
        raw, _ = t64(torch.tensor(cs, dtype=torch.float64))
        loss = ((raw - torch.tensor(ys, dtype=torch.float64)) ** 2).mean()
        loss.backward()
        params = list(t64.parameters())
        names = [k for k, _ in t64.named_parameters()]
        grads = {k: v.grad.detach().clone() for k, v in zip(names, params)}
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        check(norm > clip, "the step must exercise clipping (norm %g <= clip %g)" % (norm, clip))
        check(abs(lvt_norm - norm) <= 1e-4 * norm, "pre-clip norm %.9g vs torch %.9g" % (lvt_norm, norm))
        opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        opt.step()
        new, _, _ = read_safetensors(step_out)
        worst = 0.0
        for k, v in zip(names, params):
            ref_p = v.detach().numpy()
            g = grads[k].abs().numpy()
            # AdamW's first step moves each element by ~lr * sign(g): where the true gradient is
            # at the level of fp32 rounding (|g| <= 1e-4 * the tensor's max, e.g. the key bias of
            # attention, whose gradient is exactly 0 in exact arithmetic) the sign is noise, so
            # those elements are only bounded by one step (lr) around the decayed weight.
            gmax = float(g.max()) if g.size else 0.0
            sure = g > 1e-4 * gmax
            dif = np.abs(new[k].astype(np.float64) - ref_p)
            if sure.any():
                worst = max(worst, float(dif[sure].max()))
            check(float(dif.max()) <= 2.0 * lr * 1.0001, "%s: step differs by %g (> 2 lr)" % (k, float(dif.max())))
        print("one clipped AdamW step: pre-clip norm %.6g (torch %.6g), max abs param diff %.3g" %
              (lvt_norm, norm, worst))
        check(worst <= 1e-6, "parameters after one clipped AdamW step differ from torch by %g" % worst)

    # ---- 5. CLI failures ------------------------------------------------------------------------------
    keep = os.path.join(tmp, "keep.safetensors")
    run([lvt, "export", ck, "--out", keep])
    before = open(keep, "rb").read()
    bad = os.path.join(tmp, "bad.h5")
    with open(bad, "w") as f:
        f.write("not a checkpoint\n")
    p = run([lvt, "export", bad, "--out", keep], expect_rc=1)
    check(p.stderr.count("\n") == 1 and bad in p.stderr, "export error message: %r" % p.stderr)
    check(open(keep, "rb").read() == before, "a failed export damaged the existing output")
    p = run([lvt, "export", ck, "--out", os.path.join(tmp, "no", "dir", "x.safetensors")], expect_rc=1)
    check(p.stderr.count("\n") == 1, "export to a missing dir: %r" % p.stderr)
    wrong = os.path.join(tmp, "wrong.npy")
    np.save(wrong, np.zeros((3, L, D + 1), dtype=np.float32))
    p = run([lvt, "predict", "--model", ck, "--data", wrong, "--out", os.path.join(tmp, "w.npy")], expect_rc=1)
    check("(N, 5, 24)" in p.stderr and p.stderr.count("\n") == 1, "predict shape message: %r" % p.stderr)
    check(not os.path.exists(os.path.join(tmp, "w.npy")), "a failed predict left an output")
    p = run([lvt, "predict", "--model", bad, "--data", wrong, "--out", os.path.join(tmp, "w.npy")], expect_rc=1)
    check(p.stderr.count("\n") == 1 and "safetensors" in p.stderr, "predict bad model message: %r" % p.stderr)
    p = run([lvt, "init", cfg_path, "--out", os.path.join(tmp, "x.h5"), "--bogus"], expect_rc=1)
    check("--bogus" in p.stderr, "init unknown flag: %r" % p.stderr)
    p = run([lvt, "init", cfg_path, "--out", os.path.join(tmp, "x.h5"), "--set", "model.d_model=17"], expect_rc=1)
    check(p.stderr.count("\n") == 1, "init with an invalid --set: %r" % p.stderr)

    if FAILS:
        print("test_ckpt_torch: %d check(s) FAILED" % len(FAILS))
        return 1
    print("test_ckpt_torch: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
