#!/usr/bin/env bash
# crash_resume.sh — kill -9 `lvt train` at seeded random moments (30 trials), and SIGKILL inside
# every checkpoint save of the run in turn, leaving a partial temporary file (LVT_FAULT_KILL_SAVE=k
# for k = 1, 2, ... until the run no longer dies), each followed by --resume to the end: every final
# last.h5 and best.h5 is bit-identical to an uninterrupted run's. The run has two tripwires (an lr
# change after epoch 2, a rollback to epoch 2 after epoch 3), so a kill between an epoch's
# checkpoints and its tripwires is among the trials. Prints how many kills hit each phase (set-up,
# training, checkpoint writing, after the end). CRASH_TRIALS overrides the count of timed trials.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_crash_resume
N=${CRASH_TRIALS:-30}
tiny_run "$T/cfg.json" 3
"$PY" - "$T/cfg.json" <<'PY' || fail "cannot add the tripwires"
import json, sys
c = json.load(open(sys.argv[1]))
c["tripwires"] = [{"epochs": [2, 2], "if": "val_loss > -1", "set": {"lr": 5e-4}},
                  {"epochs": [3, 3], "if": "val_loss > -1", "rollback_to_epoch": 2}]
json.dump(c, open(sys.argv[1], "w"))
PY
t0=$(date +%s.%N)
"$LVT" train "$T/cfg.json" --run-dir "$T/ref" > "$T/ref.log" 2>&1 || { cat "$T/ref.log"; fail "uninterrupted run"; }
dur=$("$PY" -c "print(max(0.2, $(date +%s.%N) - $t0))")
grep -q "tripwire 2 fired after epoch 3" "$T/ref/training.log" || fail "the reference run's rollback tripwire did not fire"
# the kill moments: seeded, uniform over the uninterrupted run's duration; then every save in turn
"$PY" -c "
import random
r = random.Random(20261201)
print('\n'.join(['%.3f' % (r.uniform(0.0, 0.9) * $dur) for _ in range($N)] + ['save%d' % k for k in range(1, 41)]))" > "$T/delays"
n_saves=0
declare -A phase=([setup]=0 [training]=0 [checkpoint]=0 [finished]=0)
i=0
while read -r delay; do
  i=$((i + 1)); R="$T/r$i"
  if [ "${delay#save}" != "$delay" ]; then # die inside checkpoint save number ${delay#save}
    if LVT_FAULT_KILL_SAVE=${delay#save} "$LVT" train "$T/cfg.json" --run-dir "$R" > "$R.a.log" 2>&1; then
      n_saves=$((${delay#save} - 1)); i=$((i - 1)); break # the run has fewer saves: all were tried
    fi
    ls "$R"/ckpt/.*.tmp.* > /dev/null 2>&1 || fail "trial $i: no partial temporary file"
    p=checkpoint
  else
    "$LVT" train "$T/cfg.json" --run-dir "$R" > "$R.a.log" 2>&1 &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2> /dev/null; then
      wait "$pid" 2> /dev/null
      if ls "$R"/ckpt/.*.tmp.* > /dev/null 2>&1 || ls "$R"/.*.tmp.* > /dev/null 2>&1; then p=checkpoint
      elif ! ls "$R"/ckpt/*.h5 > /dev/null 2>&1; then p=setup
      else p=training; fi
    else
      wait "$pid" || { cat "$R.a.log"; fail "trial $i: the run failed before the kill"; }
      p=finished
    fi
  fi
  phase[$p]=$((phase[$p] + 1))
  if [ -f "$R/.lock" ]; then
    "$LVT" train "$T/cfg.json" --resume "$R" > "$R.b.log" 2>&1 || { cat "$R.b.log"; fail "trial $i ($p, ${delay}s): resume failed"; }
  else # killed before the run directory was marked: a fresh start is the continuation
    "$LVT" train "$T/cfg.json" --run-dir "$R" > "$R.b.log" 2>&1 || { cat "$R.b.log"; fail "trial $i: restart failed"; }
  fi
  for f in last best; do
    "$PY" "$SRC/tests/common/ckpt_compare.py" "$T/ref/ckpt/$f.h5" "$R/ckpt/$f.h5" 0 > "$R.cmp" 2>&1 ||
      { cat "$R.cmp" "$R.b.log"; fail "trial $i ($p, killed at ${delay}s): final $f.h5 differs"; }
  done
  ! ls "$R"/ckpt/.*.tmp.* > /dev/null 2>&1 || fail "trial $i: stale temporary file left"
  rm -rf "$R"
done < "$T/delays"
[ "$n_saves" -ge 8 ] || fail "only $n_saves checkpoint saves were tried"
[ "$i" = $((N + n_saves)) ] || fail "ran $i of $((N + n_saves)) trials"
echo "crash_resume: $i trials ($N timed, one inside each of the $n_saves saves), run ${dur}s; kills during set-up ${phase[setup]}, training ${phase[training]}, checkpoint writing ${phase[checkpoint]}, after the end ${phase[finished]}; all bit-identical"
echo "crash_resume: passed"
