#!/usr/bin/env bash
# dist_preempt.sh — SIGTERM to the ranks of a 2-rank run: every rank stops at the next step
# boundary, rank 0 checkpoints, the job exits 0; `--resume` then ends with weights bit-identical to
# an uninterrupted 2-rank run (CPU backend).
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" dist_preempt
make_stores 32 200
write_config "$T/p4.json" 32
STEPS=100
"${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/full" --set train.max_steps=$STEPS > "$T/full.log" 2>&1 || { cat "$T/full.log"; fail "uninterrupted run"; }
LVT_FAULT_WAIT_STOP=20 "${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/pre" --set train.max_steps=$STEPS > "$T/pre.log" 2>&1 &
job=$!
# the ranks wait after step 20 for the signal (LVT_FAULT_WAIT_STOP: a fast machine would
# otherwise finish the 100 steps first); wait for that progress, then signal the rank processes (as SLURM does on preemption)
wait_step "$T/pre" 20
ranks=$(pgrep -f -- "--run-dir $T/pre " | while read -r p; do [ "$(cat /proc/$p/comm 2>/dev/null)" = lvt ] && echo $p; done)
[ -n "$ranks" ] || fail "no rank process to signal"
kill -TERM $ranks
wait $job; rc=$?
[ $rc = 0 ] || { cat "$T/pre.log"; fail "preempted job exited $rc (expected 0)"; }
grep -q '"event":"preempted"' "$T/pre/metrics.jsonl" || { cat "$T/pre.log"; fail "the run finished before the signal arrived"; }
grep -q "stop signal received" "$T/pre/training.log" || fail "no stop line in training.log"
"${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --resume "$T/pre" --set train.max_steps=$STEPS > "$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume"; }
grep -q "resumed from" "$T/resume.log" || fail "resume did not report where it continued"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/full/ckpt/last.h5" "$T/pre/ckpt/last.h5" 0 || fail "resumed run differs from the uninterrupted one"
echo "dist_preempt: passed"
