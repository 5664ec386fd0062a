#!/usr/bin/env bash
# train_events.sh — every line of metrics.jsonl is valid JSON, also when config names need escaping:
# phases called `warm"up` and `back\slash<TAB>tab` come back verbatim in the phase events, the epoch
# records and training_history.json (regression: events built with snprintf wrote `"name":"warm"up"`).
# Step records keep their short numbers (at most 8 significant digits, samples_per_s 1 decimal).
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_events
stores 1 60
p4_config "$T/p4.json" 2
"$PY" - "$T/p4.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["curriculum"] = [{"from_epoch": 1, "name": 'warm"up'}, {"from_epoch": 2, "name": "back\\slash\ttab", "rollout_h": 2}]
c["train"]["log_every"] = 5
json.dump(c, open(sys.argv[1], "w"))
PY
"$LVT" train "$T/p4.json" --run-dir "$T/run" > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "train"; }
"$PY" - "$T/run" <<'PY' || fail "metrics.jsonl"
import json, re, sys
run = sys.argv[1]
names = ['warm"up', "back\\slash\ttab"]
ev = []
for i, line in enumerate(open(run + "/metrics.jsonl")):
    try:
        ev.append(json.loads(line))
    except ValueError as x:
        raise SystemExit("metrics.jsonl line %d is not JSON (%s): %s" % (i + 1, x, line))
phases = [(e["epoch"], e["phase"], e["name"]) for e in ev if e.get("event") == "phase"]
assert phases == [(1, 1, names[0]), (2, 2, names[1])], phases
assert [e["phase"] for e in ev if e.get("type") == "epoch"] == names, ev
hist = json.load(open(run + "/training_history.json"))["history"]
assert [h["phase"] for h in hist] == names, hist
steps = [l for l in open(run + "/metrics.jsonl") if l.startswith('{"type":"step"')]
assert len(steps) >= 2, steps
for l in steps:
    for key in ("loss", "mse", "cos", "grad_norm", "lr"):
        v = re.search('"%s":([^,}]+)' % key, l).group(1)
        digits = re.sub(r"e.*$", "", v).replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 8, (key, v, l)
    sps = re.search('"samples_per_s":([^,}]+)', l).group(1)
    assert re.fullmatch(r"\d+(\.\d)?", sps), l
print("phase names round-trip:", [p[2] for p in phases])
PY
grep -q "curriculum phase 1 'warm\"up' begins" "$T/run/training.log" || fail "training.log names the phase"
echo "train_events: passed"
