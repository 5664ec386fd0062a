#!/usr/bin/env bash
# crash_resume.sh — kill -9 `lvt train` at seeded random moments (30 trials), and SIGKILL inside a
# seeded checkpoint save leaving a partial temporary file (LVT_FAULT_KILL_SAVE, 10 trials), each
# followed by --resume to the end: every final last.h5 is bit-identical to an uninterrupted run's.
# Prints how many kills hit each phase (set-up, training, checkpoint writing, after the end).
# CRASH_TRIALS overrides the count of timed trials.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_crash_resume
N=${CRASH_TRIALS:-30}
tiny_run "$T/cfg.json" 3
t0=$(date +%s.%N)
"$LVT" train "$T/cfg.json" --run-dir "$T/ref" > "$T/ref.log" 2>&1 || { cat "$T/ref.log"; fail "uninterrupted run"; }
dur=$("$PY" -c "print(max(0.2, $(date +%s.%N) - $t0))")
# the kill moments: seeded, uniform over the uninterrupted run's duration
"$PY" -c "
import random
r = random.Random(20261201)
print('\n'.join('%.3f' % (r.uniform(0.0, 0.9) * $dur) for _ in range($N)))
print('\n'.join('save%d' % r.randint(1, 10) for _ in range(10)))" > "$T/delays"
declare -A phase=([setup]=0 [training]=0 [checkpoint]=0 [finished]=0)
i=0
while read -r delay; do
  i=$((i + 1)); R="$T/r$i"
  if [ "${delay#save}" != "$delay" ]; then # die inside checkpoint save number ${delay#save}
    LVT_FAULT_KILL_SAVE=${delay#save} "$LVT" train "$T/cfg.json" --run-dir "$R" > "$R.a.log" 2>&1 && fail "trial $i: no kill"
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
  "$PY" "$SRC/tests/common/ckpt_compare.py" "$T/ref/ckpt/last.h5" "$R/ckpt/last.h5" 0 > "$R.cmp" 2>&1 ||
    { cat "$R.cmp" "$R.b.log"; fail "trial $i ($p, killed at ${delay}s): final weights differ"; }
  ! ls "$R"/ckpt/.*.tmp.* > /dev/null 2>&1 || fail "trial $i: stale temporary file left"
  rm -rf "$R"
done < "$T/delays"
[ "$i" = $((N + 10)) ] || fail "ran $i of $((N + 10)) trials"
echo "crash_resume: $i trials, run ${dur}s; kills during set-up ${phase[setup]}, training ${phase[training]}, checkpoint writing ${phase[checkpoint]}, after the end ${phase[finished]}; all bit-identical"
echo "crash_resume: passed"
