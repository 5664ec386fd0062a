#!/usr/bin/env bash
# train_curriculum.sh — each curriculum switch happens at its epoch with the knobs of docs/training.md
# (later phases inherit earlier values), logged in training.log and metrics.jsonl.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_curriculum
stores 1 80
p4_config "$T/p4.json" 5
"$LVT" train "$T/p4.json" --run-dir "$T/run" > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "train"; }
"$PY" - "$T/run" <<'PY' || fail "phase switches"
import json, sys
run = sys.argv[1]
ev = [json.loads(l) for l in open(run + "/metrics.jsonl")]
phases = [(e["epoch"], e["phase"]) for e in ev if e.get("event") == "phase"]
assert phases == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)], phases
hist = json.load(open(run + "/training_history.json"))["history"]
assert [h["phase"] for h in hist] == ["warmup", "rollout", "guards", "guards", "guards"], [h["phase"] for h in hist]
# the terms switch on with their phase: rollout from 2, directional from 3, future from 5
assert hist[0]["train_rollout"] == 0 and hist[1]["train_rollout"] > 0, hist
assert hist[1]["train_dir"] == 0 and hist[2]["train_dir"] >= 0 and hist[2]["lambda_dir_eff"] > 0.002, hist
assert hist[3]["train_future"] == 0 and hist[4]["train_future"] > 0, hist
log = open(run + "/training.log").read()
for line in ["epoch 2: curriculum phase 2 'rollout' begins", "rollout_h 3, lambda_roll 0.05,",
             "epoch 4: curriculum phase 4 'guards' begins (lambda_roll=0.1)", "lambda_roll 0.1, lambda_dir 0.002"]:
    assert line in log, line
# the last line counts the rollout slot backwards (docs/loss.md, "Zero-gradient slots"): 2 later
# slots per step of epochs 2..5 (rollout_h 3, one micro-step), each run or skipped
import re
m = re.search(r"rollout backward: (\d+) of (\d+) later-slot backwards skipped on rank 0", log)
assert m, "no rollout backward line"
skipped, total = int(m.group(1)), int(m.group(2))
assert total == 2 * sum(h["steps"] for h in hist[1:]) and 0 <= skipped <= total, (skipped, total)
print("phases at epochs", [p[0] for p in phases], "; rollout slot backwards skipped", skipped, "of", total)
PY
echo "train_curriculum: passed"
