#!/usr/bin/env bash
# dist_equivalence.sh — data parallelism is exact: 1 rank x 64, 2 ranks x 32 and 4 ranks x 16
# (oversubscribed) give the same weights after 50 P4 steps (rollout H=3 with gradient through every
# step, adaptive directional guard, future ranking, anti-copy, context drop and dropout all on).
# The only difference allowed is float summation order: tolerance 5e-4 on weights of magnitude ~1
# after 50 AdamW steps at lr 5e-4 (measured: ~6e-5). Also: gradient accumulation (1 rank, micro 16
# x 4) equals the single batch for the pure MSE objective, where no batch statistic is involved.
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" dist_equivalence
make_stores 32 120
write_config "$T/p4.json" 32
run() { # name ranks [sets...]
  local name=$1 np=$2; shift 2
  if [ "$np" = 1 ]; then "$LVT" train "$T/p4.json" --run-dir "$T/$name" --set train.max_steps=50 "$@" > "$T/$name.log" 2>&1
  else "${MPIRUN[@]}" -np "$np" "$LVT" train "$T/p4.json" --run-dir "$T/$name" --set train.max_steps=50 "$@" > "$T/$name.log" 2>&1; fi
  [ $? = 0 ] || { cat "$T/$name.log"; fail "$name"; }
}
run w1 1
run w2 2
run w4 4
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/w1/ckpt/last.h5" "$T/w2/ckpt/last.h5" 5e-4 || fail "2 ranks differ from 1"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/w1/ckpt/last.h5" "$T/w4/ckpt/last.h5" 5e-4 || fail "4 ranks differ from 1"
# the three runs must really have trained (weights moved away from the initial ones)
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/w1/ckpt/epoch_000.h5" "$T/w1/ckpt/last.h5" 1e-3 && fail "weights did not move"
grep -q '"global_step":50' "$T/w2/metrics.jsonl" || fail "2-rank run did not reach step 50"
# gradient accumulation, pure MSE
mse=(--set objective.rollout_h=0 --set objective.lambda_roll=0 --set objective.lambda_dir=0 --set objective.lambda_fut=0
     --set objective.lambda_ac=0 --set objective.context_drop_p=0)
run m1 1 "${mse[@]}"
run m4 1 "${mse[@]}" --set train.micro_batch=16
grep -q "accum 4" "$T/m4/training.log" || fail "micro_batch 16 did not give 4 accumulation steps"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/m1/ckpt/last.h5" "$T/m4/ckpt/last.h5" 5e-4 || fail "accumulation differs"
# data.shard "articles": each rank reads only its article range and trains on it
"${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/sh" --set data.shard=articles --set train.max_steps=30 > "$T/sh.log" 2>&1 || { cat "$T/sh.log"; fail "sharded run"; }
grep -q "data.shard articles: rank 0 holds articles \[0, " "$T/sh/training.log" || fail "no shard line"
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/sh/ckpt/epoch_000.h5" "$T/sh/ckpt/last.h5" 1e-3 && fail "sharded run did not train"
# a global batch that does not divide is a clear error
"${MPIRUN[@]}" -np 3 "$LVT" train "$T/p4.json" --run-dir "$T/bad" > "$T/bad.log" 2>&1 && fail "world 3 with batch 64 accepted"
grep -q "global_batch 64 is not micro_batch" "$T/bad.log" || { cat "$T/bad.log"; fail "no clear message for an indivisible batch"; }
echo "dist_equivalence: passed"
