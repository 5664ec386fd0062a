#!/usr/bin/env bash
# test_report.sh — `lvt report` on a real short training run (a curriculum of two phases, a
# tripwire that rolls back, a 5cat.json), a copy of it with baselines in its history, and two fake
# sweep directories; report_check.py compares every plotted series with the JSON it came from and
# checks the PNG files and the HTML page.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" report
D="$SRC/tests/report"
"$PY" -c "import matplotlib" 2>/dev/null || { echo "python3-matplotlib missing: skipped"; exit 77; }
"$LVT" synth --out "$T/train.h5" --articles 50 --dim 16 --seed 31 > /dev/null || fail "synth train"
"$LVT" synth --out "$T/val.h5" --articles 30 --dim 16 --seed 32 > /dev/null || fail "synth val"
cat > "$T/tiny.json" <<CFG
{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.0},
 "data": {"train": "$T/train.h5", "val": "$T/val.h5", "ood": "$T/val.h5"},
 "train": {"epochs": 3, "global_batch": 32, "backend": "cpu", "log_every": 10, "seed": 5},
 "optim": {"lr": 2e-3},
 "curriculum": [{"from_epoch": 1, "name": "warmup"},
                {"from_epoch": 2, "name": "rollout", "rollout_h": 2, "lambda_roll": 0.05}],
 "tripwires": [{"epochs": [2, 2], "if": "val_cos > -2", "rollback_to_epoch": 1, "set": {"lambda_roll": 0.02}}],
 "eval": {"mini5cat_samples": 100}}
CFG
"$LVT" train "$T/tiny.json" --run-dir "$T/run_a" > "$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train"; }
"$LVT" eval --model "$T/run_a/ckpt/best.h5" --val "$T/val.h5" --ood "$T/val.h5" --max-samples 300 \
  --json "$T/run_a/5cat.json" > "$T/eval.log" 2>&1
rc=$?
[ $rc -le 2 ] || { cat "$T/eval.log"; fail "eval exited $rc"; }
# lvt train writes the val baselines into the history (docs/training.md, "Baselines"); run_a stands
# for a run without them (older runs), so they are taken out of its copy of the history
"$PY" -c "import json,sys; p=sys.argv[1]; h=json.load(open(p)); assert 'baselines' in h; h.pop('baselines'); json.dump(h, open(p,'w'))" \
  "$T/run_a/training_history.json" || fail "strip baselines"
cp -r "$T/run_a" "$T/run_b"
"$PY" "$D/report_fake.py" baselines "$T/run_b" || fail "baselines"
"$PY" "$D/report_fake.py" sweep "$T/sweep_a" config || fail "sweep_a"
"$PY" "$D/report_fake.py" sweep "$T/sweep_b" column || fail "sweep_b"
"$LVT" report "$T/run_a" "$T/run_b" "$T/sweep_a" "$T/sweep_b" --out "$T/out" > "$T/report.log" 2>&1 \
  || { cat "$T/report.log"; fail "lvt report"; }
grep -q "wrote 8 pictures" "$T/report.log" || { cat "$T/report.log"; fail "report output"; }
"$PY" "$D/report_check.py" "$T/out" "$T/run_a" "$T/run_b" "$T/sweep_a" "$T/sweep_b" || fail "report_check"
echo "test_report: passed"
