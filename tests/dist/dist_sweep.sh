#!/usr/bin/env bash
# dist_sweep.sh — launch/sweep_rollout_h.sh runs a 2x2 sweep over H and λ_roll locally (2 MPI ranks
# each), puts H and λ_roll into the recipe's phases, runs 5CAT on each best checkpoint and
# collects one CSV row per run.
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" dist_sweep
make_stores 32 60
write_config "$T/p4.json" 32
"$PY" - "$T/p4.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["train"]["epochs"] = 2
c["curriculum"] = [{"from_epoch": 1, "name": "warmup"}, {"from_epoch": 2, "name": "rollout", "rollout_h": 3, "lambda_roll": 0.05}]
json.dump(c, open(sys.argv[1], "w"))
PY
LVT="$LVT" bash "$SRC/launch/sweep_rollout_h.sh" "$T/p4.json" "$T/sweep" --h "2 4" --lambda "0.05 0.2" --np 2 > "$T/sweep.log" 2>&1 \
  || { cat "$T/sweep.log"; fail "sweep"; }
"$PY" - "$T/sweep" <<'PY' || fail "sweep results"
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/sweep.csv")))
assert [(r["rollout_h"], r["lambda_roll"]) for r in rows] == [("2", "0.05"), ("2", "0.2"), ("4", "0.05"), ("4", "0.2")], rows
for r in rows:
    c = json.load(open(f"{d}/h{r['rollout_h']}_l{r['lambda_roll']}/config.json"))
    ph = c["curriculum"][1]
    assert ph["rollout_h"] == int(r["rollout_h"]) and abs(ph["lambda_roll"] - float(r["lambda_roll"])) < 1e-12, ph
    assert -1 <= float(r["val_cos_p1"]) <= 1 and int(r["checks_passed"]) >= 0 and float(r["samples_per_s"]) > 0, r
    log = open(f"{d}/h{r['rollout_h']}_l{r['lambda_roll']}/training.log").read()
    assert "world 2" in log and f"rollout_h {r['rollout_h']}, lambda_roll {float(r['lambda_roll']):g}" in log, log
print(open(d + "/sweep.csv").read())
PY
echo "dist_sweep: passed"
