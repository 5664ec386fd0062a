#!/usr/bin/env bash
# train_tripwire.sh — a crafted tripwire fires after epoch 2 and rolls back to epoch 1: the event is
# in metrics.jsonl, the weights reloaded before training continues equal epoch_001.h5's (checked by
# their sum and sum of squares against the file), its `set` is in force afterwards, it fires once,
# and the run then finishes its epochs.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_tripwire
stores 1 80
p4_config "$T/p4.json" 3
"$PY" - "$T/p4.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["tripwires"] = [{"epochs": [2, 2], "if": "val_cos > -2", "rollback_to_epoch": 1, "set": {"lambda_roll": 0.03}},
                  {"epochs": [1, 3], "if": "val_loss < 0", "set": {"lambda_dir": 0.5}}]  # never fires
json.dump(c, open(sys.argv[1], "w"))
PY
"$LVT" train "$T/p4.json" --run-dir "$T/run" > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "train"; }
"$PY" - "$T/run" <<'PY' || fail "tripwire / rollback"
import json, sys
import h5py, numpy as np
run = sys.argv[1]
ev = [json.loads(l) for l in open(run + "/metrics.jsonl")]
trip = [e for e in ev if e.get("event") == "tripwire"]
assert len(trip) == 1 and trip[0]["tripwire"] == 1 and trip[0]["epoch"] == 2, trip
rb = [e for e in ev if e.get("event") == "rollback"]
assert len(rb) == 1 and rb[0]["to_epoch"] == 1, rb
with h5py.File(run + "/ckpt/epoch_001.h5", "r") as f:
    vals = []
    f["params"].visititems(lambda n, o: vals.append(o[()].astype(np.float64).ravel()) if isinstance(o, h5py.Dataset) else None)
v = np.concatenate(vals)
s, q = float(v.sum()), float((v * v).sum())
assert abs(rb[0]["params_sum"] - s) <= 1e-9 * max(1.0, abs(s)) + 1e-9, (rb[0]["params_sum"], s)
assert abs(rb[0]["params_sumsq"] - q) <= 1e-9 * q, (rb[0]["params_sumsq"], q)
# after the rollback the run re-does epochs 2 and 3 with lambda_roll 0.03 in force
ep = [e["epoch"] for e in ev if e.get("type") == "epoch"]
assert ep == [1, 2, 2, 3], ep
hist = json.load(open(run + "/training_history.json"))["history"]
assert [h["epoch"] for h in hist] == [1, 2, 3], hist
log = open(run + "/training.log").read()
assert "tripwire 1 fired after epoch 2: val_cos > -2" in log
assert "set lambda_roll=0.03, rolling back" in log, log
assert "rolled back to" in log and "continuing at epoch 2" in log
print("rollback weights match epoch_001.h5: sum", s, "sumsq", q)
PY
echo "train_tripwire: passed"
