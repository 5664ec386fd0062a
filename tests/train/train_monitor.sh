#!/usr/bin/env bash
# train_monitor.sh — train.monitor (docs/training.md, "Validation, per epoch"): with the cosine
# base loss the raw output's length is free and its MSE (val_loss) grows while val_cos improves,
# so `auto` makes best.h5 follow val_cos (the header says so, the epoch line marks "(best val
# cos)"); `train.monitor: val_loss` keeps the lowest-val_loss epoch. best.h5's epoch is checked
# against training_history.json in both runs; the two differ on this data, so each check can fail.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_monitor
stores 1 160
p4_config "$T/cos.json" 4
"$LVT" train "$T/cos.json" --run-dir "$T/auto" --set objective.base_loss=cosine > "$T/auto.log" 2>&1 || { cat "$T/auto.log"; fail "cosine run"; }
grep -q "best.h5 and the plateau schedule follow val_cos (train.monitor auto: the base loss is not mse)" "$T/auto/training.log" || fail "the header does not say what best.h5 follows"
grep -q "(best val cos)" "$T/auto/training.log" || fail "no epoch marked (best val cos)"
"$LVT" train "$T/cos.json" --run-dir "$T/loss" --set objective.base_loss=cosine --set train.monitor=val_loss > "$T/loss.log" 2>&1 || { cat "$T/loss.log"; fail "cosine run, monitor val_loss"; }
grep -q "follow val_cos" "$T/loss/training.log" && fail "monitor val_loss still follows val_cos"
"$PY" - "$T/auto" "$T/loss" <<'PY' || fail "best.h5 does not follow train.monitor"
import json, sys
import h5py
def best_epoch(run):
    with h5py.File(run + "/ckpt/best.h5", "r") as f:
        return int(f.attrs["epoch"])
def hist(run):
    return json.load(open(run + "/training_history.json"))["history"]
ha, hl = hist(sys.argv[1]), hist(sys.argv[2])
by_cos = max(ha, key=lambda r: r["val_cosine"])["epoch"]
by_loss = min(hl, key=lambda r: r["val_loss"])["epoch"]
print("val_cos per epoch", [round(r["val_cosine"], 4) for r in ha], "val_loss", [round(r["val_loss"], 5) for r in hl])
assert by_cos != by_loss, "the data does not tell the two monitors apart (%d, %d)" % (by_cos, by_loss)
assert best_epoch(sys.argv[1]) == by_cos, (best_epoch(sys.argv[1]), by_cos)
assert best_epoch(sys.argv[2]) == by_loss, (best_epoch(sys.argv[2]), by_loss)
print("best.h5: epoch %d (val_cos) and %d (val_loss)" % (by_cos, by_loss))
PY
echo "train_monitor: passed"
