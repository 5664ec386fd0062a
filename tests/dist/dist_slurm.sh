#!/usr/bin/env bash
# dist_slurm.sh — a real single-node SLURM cluster (slurmctld + slurmd + munge from Debian, started
# here with a generated slurm.conf) runs launch/slurm/train.sbatch with 2 tasks on the CPU backend
# via `sbatch --wait`; the run directory shows a finished run; SIGUSR1 preemption requeues the job
# and it resumes by itself to the same weights; the H/λ sweep runs as a job array. Skips (77)
# when SLURM is absent.
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" dist_slurm
S="$T/slurm"
bash "$SRC/tests/dist/slurm_cluster.sh" start "$S"; rc=$?
[ $rc = 77 ] && { echo "SKIP: SLURM unavailable"; exit 77; }
[ $rc = 0 ] || fail "could not start the SLURM cluster"
trap 'bash "$SRC/tests/dist/slurm_cluster.sh" stop "$S"' EXIT
make_stores 32 60
write_config "$T/p4.json" 32
LVT="$LVT" timeout 300 sbatch --wait --ntasks=2 --overcommit --export=ALL --output="$T/job-%j.out" \
  "$SRC/launch/slurm/train.sbatch" "$T/p4.json" "$T/run" --set train.epochs=2 > "$T/sbatch.log" 2>&1
rc=$?
cat "$T/sbatch.log"
[ $rc = 0 ] || { cat "$T"/job-*.out; fail "sbatch --wait exited $rc"; }
grep -q "^summary: epochs 2" "$T"/job-*.out || { cat "$T"/job-*.out; fail "no final summary in the job output"; }
"$PY" - "$T/run/training_history.json" <<'PY' || fail "training_history.json incomplete"
import json, sys
h = json.load(open(sys.argv[1]))
assert [e["epoch"] for e in h["history"]] == [1, 2], h["history"]
PY
[ -f "$T/run/ckpt/best.h5" ] && [ -f "$T/run/ckpt/epoch_002.h5" ] || fail "checkpoints missing"
grep -q "world 2" "$T/run/training.log" || fail "the job did not run 2 ranks"
# preemption: SIGUSR1 to the batch script (what --signal=B:USR1@120 or a preemption sends) makes every
# rank checkpoint and exit 0, the job requeues itself and resumes from RUN_DIR/ckpt/last.h5; the
# final weights equal an uninterrupted 2-rank run's bit for bit
jid=$(LVT="$LVT" sbatch --parsable --ntasks=2 --overcommit --export=ALL --output="$T/pre-%j.out" \
  "$SRC/launch/slurm/train.sbatch" "$T/p4.json" "$T/pre" --set train.epochs=4 --set train.log_every=1) || fail "sbatch"
for _ in $(seq 300); do grep -q '"global_step":20,' "$T/pre/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
scancel --signal=USR1 --batch "$jid" || fail "scancel --signal"
for _ in $(seq 300); do   # the requeued job waits for a begin time: release it
  scontrol show job "$jid" | grep -q "Restarts=1" && scontrol show job "$jid" | grep -q "JobState=PENDING" \
    && scontrol update JobId="$jid" StartTime=now > /dev/null 2>&1
  scontrol show job "$jid" | grep -qE "JobState=(COMPLETED|FAILED|CANCELLED)" && break
  sleep 0.5
done
scontrol show job "$jid" | grep -q "JobState=COMPLETED" || { cat "$T"/pre-*.out; fail "preempted job did not complete"; }
grep -q "requeueing job" "$T"/pre-*.out && grep -q "resuming from $T/pre/ckpt/last.h5 (restart 1)" "$T"/pre-*.out \
  || { cat "$T"/pre-*.out; fail "no requeue + automatic resume"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --oversubscribe --bind-to none -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/full" --set train.epochs=4 \
  --set train.log_every=1 > "$T/full.log" 2>&1 || fail "uninterrupted run"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/full/ckpt/last.h5" "$T/pre/ckpt/last.h5" 0 || fail "requeued run differs"
# the rollout-horizon sweep as a SLURM job array (one task per combination)
LVT="$LVT" timeout 300 bash "$SRC/launch/sweep_rollout_h.sh" "$T/p4.json" "$T/sweep" --h "2" --lambda "0.05 0.1" --slurm \
  -- --set train.epochs=1 > "$T/sweep.log" 2>&1 || { cat "$T/sweep.log" "$T"/sweep/sweep-*.out; fail "sweep as a job array"; }
ls "$T"/sweep/sweep-*_1.out > /dev/null 2>&1 || fail "no array task output"
[ "$(grep -c '^2,' "$T/sweep/sweep.csv")" = 2 ] || { cat "$T/sweep/sweep.csv"; fail "sweep CSV rows"; }
echo "dist_slurm: passed"
