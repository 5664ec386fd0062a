#!/usr/bin/env bash
# rundir.sh — the run directory is never silently overwritten or shared: a second `lvt train` into
# a finished run is refused (files unchanged), --restart moves the old run into previous.1/, a run
# in progress holds a lock that a second run (fresh or --resume) cannot take, SIGTERM stops it with
# exit 0 after a checkpoint (also when it arrives while the stores load), --resume of a missing
# directory creates nothing, stale temporary files are removed, and a resume starts from the newest checkpoint that loads (last.h5 missing or
# truncated) with final weights bit-identical to an uninterrupted run.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_rundir
tiny_run "$T/cfg.json" 3
"$LVT" train "$T/cfg.json" --run-dir "$T/a" > "$T/a.log" 2>&1 || { cat "$T/a.log"; fail "first run"; }
sum=$(sha256sum "$T/a/ckpt/last.h5" "$T/a/metrics.jsonl")
"$LVT" train "$T/cfg.json" --run-dir "$T/a" > "$T/again.log" 2>&1 && fail "a finished run was overwritten"
grep -q "already holds a run: continue it with --resume" "$T/again.log" || { cat "$T/again.log"; fail "unclear refusal"; }
[ "$(wc -l < "$T/again.log")" = 1 ] || { cat "$T/again.log"; fail "more than one line"; }
[ "$sum" = "$(sha256sum "$T/a/ckpt/last.h5" "$T/a/metrics.jsonl")" ] || fail "refused run changed files"
# --restart: the old run is kept in previous.1/
"$LVT" train "$T/cfg.json" --run-dir "$T/a" --restart > "$T/restart.log" 2>&1 || { cat "$T/restart.log"; fail "--restart"; }
[ "$(sha256sum < "$T/a/previous.1/ckpt/last.h5")" = "$(echo "$sum" | head -1 | cut -d' ' -f1)  -" ] || fail "old run not kept"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/a/previous.1/ckpt/last.h5" "$T/a/ckpt/last.h5" 0 > /dev/null || fail "restart differs"
grep -q "previous run was moved to $T/a/previous.1" "$T/a/training.log" || fail "restart not logged"
# a run in progress holds the lock; SIGTERM stops it with exit 0 and a resumable checkpoint
tiny_run "$T/long.json" 400
# (it waits after step 300, inside epoch 2, for the signal: LVT_FAULT_WAIT_STOP)
LVT_FAULT_WAIT_STOP=300 "$LVT" train "$T/long.json" --run-dir "$T/b" > "$T/b.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -f "$T/b/ckpt/epoch_001.h5" ] && break; sleep 0.05; done
[ -f "$T/b/ckpt/epoch_001.h5" ] || fail "long run did not start"
"$LVT" train "$T/long.json" --run-dir "$T/b" --restart > "$T/b2.log" 2>&1 && fail "second run in a locked directory"
grep -q "is in use by another lvt train" "$T/b2.log" || { cat "$T/b2.log"; fail "unclear lock message"; }
"$LVT" train "$T/long.json" --resume "$T/b" > "$T/b3.log" 2>&1 && fail "--resume of a run in progress"
grep -q "is in use by another lvt train" "$T/b3.log" || { cat "$T/b3.log"; fail "unclear lock message (resume)"; }
[ ! -d "$T/b/previous.1" ] || fail "the locked run was moved"
kill -TERM "$pid"
wait "$pid" || { cat "$T/b.log"; fail "SIGTERM: exit not 0"; }
grep -q "stop signal received" "$T/b/training.log" || fail "no stop line"
# a stop signal while the stores load (LVT_FAULT_RAISE_SETUP raises SIGTERM right after them): the
# handlers are installed before set-up, so the run stops at its first step boundary with a
# checkpoint and exit 0 (not 143), and --resume continues it to the uninterrupted run's weights
LVT_FAULT_RAISE_SETUP=1 "$LVT" train "$T/cfg.json" --run-dir "$T/s" > "$T/s.log" 2>&1 || { cat "$T/s.log"; fail "SIGTERM during set-up: exit not 0"; }
grep -q "stop signal received: checkpoint written at epoch 1 step 1;" "$T/s/training.log" || { cat "$T/s/training.log"; fail "SIGTERM during set-up: no stop at the first step"; }
"$LVT" train "$T/cfg.json" --resume "$T/s" > "$T/s2.log" 2>&1 || { cat "$T/s2.log"; fail "resume after a set-up signal"; }
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/a/ckpt/last.h5" "$T/s/ckpt/last.h5" 0 > /dev/null || fail "set-up signal: resumed run differs"
# --resume of a missing directory fails and creates nothing
"$LVT" train "$T/cfg.json" --resume "$T/none/x" > "$T/none.log" 2>&1 && fail "resume of a missing run"
grep -q "no such run directory" "$T/none.log" || { cat "$T/none.log"; fail "unclear missing-run message"; }
[ ! -e "$T/none" ] || fail "--resume created a directory"
# resume from the newest checkpoint that loads; stale temporary files removed
steps=$("$PY" -c "import json; print(json.load(open('$T/a/training_history.json'))['history'][0]['steps'])")
for how in missing truncated; do
  R="$T/c_$how"
  "$LVT" train "$T/cfg.json" --run-dir "$R" --set train.max_steps=$(( steps + steps / 2 )) > /dev/null 2>&1 || fail "first leg"
  if [ $how = missing ]; then rm "$R/ckpt/last.h5"; else truncate -s 3000 "$R/ckpt/last.h5"; fi
  echo junk > "$R/ckpt/.last.h5.tmp.99999"
  "$LVT" train "$T/cfg.json" --resume "$R" > "$R.log" 2>&1 || { cat "$R.log"; fail "resume with last.h5 $how"; }
  [ ! -e "$R/ckpt/.last.h5.tmp.99999" ] || fail "stale temporary file kept"
  grep -q "resumed from $R/ckpt/epoch_001.h5" "$R/training.log" || { cat "$R/training.log"; fail "not resumed from epoch_001.h5 ($how)"; }
  "$PY" "$SRC/tests/common/ckpt_compare.py" "$T/a/ckpt/last.h5" "$R/ckpt/last.h5" 0 > /dev/null || fail "resume ($how) differs"
done
echo "rundir: passed"
