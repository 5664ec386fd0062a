#!/usr/bin/env bash
# dist_slurm.sh — a real single-node SLURM cluster (slurmctld + slurmd + munge from Debian, started
# here with a generated slurm.conf) runs launch/slurm/train.sbatch with 2 tasks on the CPU backend
# via `sbatch --wait`; the run directory shows a finished run. Skips (77) when SLURM is absent.
source "$LVT_SOURCE_DIR/tests/dist_common.sh" dist_slurm
S="$T/slurm"
bash "$SRC/tests/slurm_cluster.sh" start "$S"; rc=$?
[ $rc = 77 ] && { echo "SKIP: SLURM unavailable"; exit 77; }
[ $rc = 0 ] || fail "could not start the SLURM cluster"
trap 'bash "$SRC/tests/slurm_cluster.sh" stop "$S"' EXIT
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
# the rollout-horizon sweep as a SLURM job array (one task per combination)
LVT="$LVT" timeout 300 bash "$SRC/launch/sweep_rollout_h.sh" "$T/p4.json" "$T/sweep" --h "2" --lambda "0.05 0.1" --slurm \
  -- --set train.epochs=1 > "$T/sweep.log" 2>&1 || { cat "$T/sweep.log" "$T"/sweep/sweep-*.out; fail "sweep as a job array"; }
ls "$T"/sweep/sweep-*_1.out > /dev/null 2>&1 || fail "no array task output"
[ "$(grep -c '^2,' "$T/sweep/sweep.csv")" = 2 ] || { cat "$T/sweep/sweep.csv"; fail "sweep CSV rows"; }
echo "dist_slurm: passed"
