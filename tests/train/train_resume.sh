#!/usr/bin/env bash
# train_resume.sh — exact resume on the CPU backend: a run stopped inside an epoch (train.max_steps)
# and resumed with --resume ends with weights bit-identical to an uninterrupted run; so does a run
# resumed at an epoch boundary; the history is the same epoch list.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_resume
stores 1 60
p4_config "$T/p4.json" 3
"$PY" - "$T/p4.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"]["dropout"] = 0.1          # dropout masks must also continue exactly
c["curriculum"][2]["context_drop_p"] = 0.2
json.dump(c, open(sys.argv[1], "w"))
PY
"$LVT" train "$T/p4.json" --run-dir "$T/full" > "$T/full.log" 2>&1 || { cat "$T/full.log"; fail "uninterrupted run"; }
steps=$("$PY" -c "import json; print(json.load(open('$T/full/training_history.json'))['history'][0]['steps'])")
for stop in $(( steps + steps / 2 )) $(( 2 * steps )); do   # inside epoch 2; exactly at the end of epoch 2
  "$LVT" train "$T/p4.json" --run-dir "$T/r$stop" --set train.max_steps=$stop > "$T/r$stop.a.log" 2>&1 || fail "first leg ($stop)"
  "$LVT" train "$T/p4.json" --resume "$T/r$stop" > "$T/r$stop.b.log" 2>&1 || { cat "$T/r$stop.b.log"; fail "resume ($stop)"; }
  "$PY" "$SRC/tests/common/ckpt_compare.py" "$T/full/ckpt/last.h5" "$T/r$stop/ckpt/last.h5" 0 || fail "resumed at step $stop differs"
  "$PY" -c "
import json
a = json.load(open('$T/full/training_history.json'))['history']
b = json.load(open('$T/r$stop/training_history.json'))['history']
keys = ['epoch', 'train_loss', 'val_loss', 'val_cosine', 'margin', 'lr']
assert [[x[k] for k in keys] for x in a] == [[x[k] for k in keys] for x in b], (a, b)
" || fail "history differs after resume at step $stop"
done
# resuming a finished run is harmless: no further steps
"$LVT" train "$T/p4.json" --resume "$T/full" > "$T/again.log" 2>&1 || fail "resume of a finished run"
"$LVT" train "$T/p4.json" --resume "$T/nope" > "$T/nope.log" 2>&1 && fail "resume of a missing run accepted"
grep -q "no checkpoint at" "$T/nope.log" || fail "unclear message for a missing run"
echo "train_resume: passed"
