#!/usr/bin/env bash
# train_nan.sh — a NaN injected into the data of one step (LVT_FAULT_NAN_STEP) is caught: the step is
# not applied, the run rolls back to the last good checkpoint with a halved lr and finishes with
# finite weights; the checkpoint written before the fault is bit-identical to an unfaulted run's.
# With train.nan_max_retries 0 the run stops with a clear error and last.h5 is intact. A store
# containing NaN is refused at load time naming the file and dataset.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_nan
stores 1 60
p4_config "$T/p4.json" 3
"$LVT" train "$T/p4.json" --run-dir "$T/clean" > "$T/clean.log" 2>&1 || fail "clean run"
steps=$("$PY" -c "import json; print(json.load(open('$T/clean/training_history.json'))['history'][0]['steps'])")
bad=$(( steps + 3 ))   # inside epoch 2
LVT_FAULT_NAN_STEP=$bad "$LVT" train "$T/p4.json" --run-dir "$T/nan" > "$T/nan.log" 2>&1 || { cat "$T/nan.log"; fail "faulted run did not recover"; }
grep -q "non-finite loss" "$T/nan/training.log" || fail "no log line for the non-finite loss"
"$PY" - "$T/nan" "$bad" <<'PY' || fail "nonfinite event"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
nf = [e for e in ev if e.get("event") == "nonfinite"]
assert len(nf) == 1 and nf[0]["global_step"] == int(sys.argv[2]) and nf[0]["rollback_to"] == "last.h5", nf
assert abs(nf[0]["lr"] - 1e-3) < 1e-12, nf
hist = json.load(open(sys.argv[1] + "/training_history.json"))["history"]
assert [h["epoch"] for h in hist] == [1, 2, 3], hist
PY
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/clean/ckpt/epoch_001.h5" "$T/nan/ckpt/epoch_001.h5" 0 || fail "checkpoint before the fault damaged"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/nan/ckpt/last.h5" "$T/nan/ckpt/last.h5" 0 || fail "final weights not finite"
# no retries left: a clear error, last good checkpoint intact
LVT_FAULT_NAN_STEP=$bad "$LVT" train "$T/p4.json" --run-dir "$T/giveup" --set train.nan_max_retries=0 > "$T/giveup.log" 2>&1 && fail "gave up with exit 0"
grep -q "training diverged: non-finite loss at step $bad" "$T/giveup.log" || { cat "$T/giveup.log"; fail "unclear give-up message"; }
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/clean/ckpt/epoch_001.h5" "$T/giveup/ckpt/last.h5" 0 || fail "last.h5 damaged by the give-up"
# a store with a NaN is refused when loaded
"$PY" - "$T/train.h5" "$T/poison.h5" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    f["vectors"][5, 3] = float("nan")
PY
"$LVT" train "$T/p4.json" --run-dir "$T/poison" --set data.train="$T/poison.h5" > "$T/poison.log" 2>&1 && fail "NaN store accepted"
grep -q "poison.h5" "$T/poison.log" && grep -q "/vectors" "$T/poison.log" || { cat "$T/poison.log"; fail "message does not name file and dataset"; }
[ "$(wc -l < "$T/poison.log")" = 1 ] || { cat "$T/poison.log"; fail "more than one error line"; }
echo "train_nan: passed"
