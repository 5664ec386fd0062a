#!/usr/bin/env bash
# train_baselines.sh — the baselines in view (docs/training.md, "Baselines"): training_history.json
# holds copy-last's and mean-of-context's val cos and margin, equal to the values computed here
# from the val store; the header and every epoch line show them; the tripwire conditions
# "val_cos < baseline_copy_last" and "val_cos >= baseline_copy_last" (exactly one holds) fire as
# the epoch's val_cos says; the context sensitivity is on the epoch line and in the history; with
# eval.mini5cat_samples = 0 the epoch line has no mini-5CAT numbers (no "nan").
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_baselines
stores 1 80
p4_config "$T/p4.json" 1
"$PY" - "$T/p4.json" "$T/p4_nomini.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["curriculum"] = []
c["tripwires"] = [{"epochs": [1, 1], "if": "val_cos < baseline_copy_last", "set": {"lambda_dir": 0.5}},
                  {"epochs": [1, 1], "if": "val_cos >= baseline_copy_last", "set": {"lambda_dir": 0.25}}]
json.dump(c, open(sys.argv[1], "w"))
c["tripwires"] = []
c["eval"]["mini5cat_samples"] = 0
json.dump(c, open(sys.argv[2], "w"))
PY
"$LVT" config show "$T/p4.json" | grep -q '"val_cos < baseline_copy_last"' || fail "config echo of a baseline condition"
"$LVT" train "$T/p4.json" --run-dir "$T/run" > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "train"; }
"$LVT" train "$T/p4_nomini.json" --run-dir "$T/run0" > "$T/run0.log" 2>&1 || { cat "$T/run0.log"; fail "train (no mini-5CAT)"; }
"$PY" - "$T/run" "$T/val.h5" "$T/run0" <<'PY' || fail "baselines"
import json, sys
import h5py, numpy as np
run, val, run0 = sys.argv[1:4]
with h5py.File(val, "r") as f:
    V = f["vectors"][...].astype(np.float64)
    off = f["article_offsets"][...]
V /= np.linalg.norm(V, axis=1, keepdims=True)
L = 5
cc, cm, mc, mm = [], [], [], []
for a in range(len(off) - 1):
    for r in range(off[a], off[a + 1] - L):
        ctx, y, last = V[r:r + L], V[r + L], V[r + L - 1]
        cc.append(last @ y); cm.append(last @ y - 1.0)
        m = ctx.mean(axis=0); m /= np.linalg.norm(m)
        mc.append(m @ y); mm.append(m @ y - m @ last)
want = {"copy_last": (np.mean(cc), np.mean(cm)), "mean_context": (np.mean(mc), np.mean(mm))}
h = json.load(open(run + "/training_history.json"))
for k, (c, m) in want.items():
    got = h["baselines"][k]
    assert abs(got["cos"] - c) < 1e-5 and abs(got["margin"] - m) < 1e-5, (k, got, c, m)
print("baselines: copy-last cos %.4f margin %.4f, mean-of-context cos %.4f margin %.4f"
      % (want["copy_last"] + want["mean_context"]))
rec = h["history"][0]
below = rec["val_cosine"] < h["baselines"]["copy_last"]["cos"]
ev = [json.loads(l) for l in open(run + "/metrics.jsonl")]
trip = [e["tripwire"] for e in ev if e.get("event") == "tripwire"]
assert trip == [1 if below else 2], (trip, rec["val_cosine"], h["baselines"])
assert np.isfinite(rec["mini5cat_ctx_shuffled"]), rec
log = open(run + "/training.log").read()
assert "baselines on the val store" in log, log
assert "(best baseline " in log and "context sensitivity dcos(shuffled)" in log, log
assert ("below copy-last" in log) == below, log
log0 = open(run0 + "/training.log").read()
assert "mini-5CAT cos(+1)" not in log0 and " nan" not in log0, log0
print("val_cos %.4f, %s copy-last: tripwire %d fired; ctx dcos(shuffled) %+.4f"
      % (rec["val_cosine"], "below" if below else "at or above", trip[0], rec["mini5cat_ctx_shuffled"]))
PY
echo "train_baselines: passed"
