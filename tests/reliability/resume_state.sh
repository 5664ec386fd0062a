#!/usr/bin/env bash
# resume_state.sh — a resumed checkpoint's run state is range-checked (negative step or epoch, a
# step past the epoch, an unknown tripwire, a NaN best value: each one clear line, exit 1), and the
# settings that exact continuation needs (global batch, seed, data, model shape) are refused on
# resume unless --allow-change, which then logs each change.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_resume_state
tiny_run "$T/cfg.json" 2
steps=270
"$LVT" train "$T/cfg.json" --run-dir "$T/base" --set train.max_steps=$(( steps + 20 )) > /dev/null 2>&1 || fail "first leg"
rm "$T/base/ckpt/epoch_000.h5" "$T/base/ckpt/epoch_001.h5" "$T/base/ckpt/best.h5"   # only last.h5 remains
case_() { # NAME KEY VALUE EXPECTED
  rm -rf "$T/$1" && cp -r "$T/base" "$T/$1"
  "$PY" -c "
import h5py, sys
with h5py.File('$T/$1/ckpt/last.h5', 'r+') as f:
    f['extra/$2'][()] = $3" || fail "$1: cannot edit"
  "$LVT" train "$T/cfg.json" --resume "$T/$1" > "$T/$1.log" 2>&1 && fail "$1: accepted"
  grep -q "$4" "$T/$1.log" || { cat "$T/$1.log"; fail "$1: unclear message"; }
  [ "$(wc -l < "$T/$1.log")" = 1 ] || { cat "$T/$1.log"; fail "$1: more than one line"; }
  ls "$T/$1/ckpt/" | grep -q -- "-" && fail "$1: wrote a checkpoint with a negative epoch"
  return 0
}
case_ negstep train.step_in_epoch -3 "train.step_in_epoch -3 is out of range"
case_ bigstep train.step_in_epoch 100000 "train.step_in_epoch 100000 is out of range"
case_ negepoch train.epoch -1 "train.epoch -1 is out of range"
case_ gstep train.global_step 5 "train.global_step 5 is out of range"
case_ fired train.fired 4 "names a tripwire this config does not have"
case_ phase train.last_phase 7 "train.last_phase 7 is out of range"
case_ nanbest train.best_val_loss "float('nan')" "is NaN"
# settings that break exact continuation
for kv in train.global_batch=16 train.seed=6 data.context_len=4 model.n_layers=2; do
  rm -rf "$T/set" && cp -r "$T/base" "$T/set"
  "$LVT" train "$T/cfg.json" --resume "$T/set" --set "$kv" > "$T/set.log" 2>&1 && fail "resume with $kv accepted"
  grep -qE "${kv%%=*} is .* but the run being resumed used .*--allow-change|is .* in the checkpoint but .* is expected" "$T/set.log" || { cat "$T/set.log"; fail "unclear refusal of $kv"; }
  [ "$(wc -l < "$T/set.log")" = 1 ] || { cat "$T/set.log"; fail "$kv: more than one line"; }
done
"$LVT" train "$T/cfg.json" --resume "$T/set" --set train.global_batch=16 --allow-change > "$T/allow.log" 2>&1 ||
  { cat "$T/allow.log"; fail "--allow-change refused"; }
grep -q "resume with --allow-change: train.global_batch changed from 8 to 16" "$T/set/training.log" || fail "change not logged"
"$LVT" train "$T/cfg.json" --run-dir "$T/x" --allow-change > "$T/x.log" 2>&1 && fail "--allow-change without --resume"
echo "resume_state: passed"
