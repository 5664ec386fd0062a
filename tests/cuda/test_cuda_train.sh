#!/usr/bin/env bash
# test_cuda_train.sh — a 50-step P4 run (rollout H=3 with gradient through every step, adaptive
# directional guard, future ranking, anti-copy, context drop, dropout) on the CUDA backend in fp32
# math against the same run on the CPU backend. Dropout and context-drop masks are identical by
# construction (same Philox keys); the only difference is float summation order (cuBLAS vs
# OpenBLAS, GPU reductions), so the weights must agree within 1e-3 absolute after 50 AdamW steps
# at lr 5e-4 (twice the 1-vs-N-rank bound of dist_equivalence, whose measured error is ~6e-5),
# while both runs must have moved the weights by more than that from their initial values (the
# `lvt init` checkpoint of the same seed). When the trainer has the switch train.cuda_graph, the
# graph run must equal the eager GPU run within 1e-6.
# Checkpoints are compared by tests/cuda/ckpt_diff.c (no Python: the GPU machine may lack h5py);
# exit 2 from it (unreadable, shapes differ, non-finite) is a failure of its own, never a pass.
# Skips (77) when there is no usable GPU; a GPU that is there but fails is a failure.
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" cuda_train
DIFF="${LVT_CKPT_DIFF:?LVT_CKPT_DIFF (the ckpt_diff binary) not set}"
make_stores 32 120
write_config "$T/p4.json" 32
run() { # name [sets...]
  local name=$1; shift
  "$LVT" train "$T/p4.json" --run-dir "$T/$name" --set train.max_steps=50 --set train.math=fp32 "$@" \
    > "$T/$name.log" 2>&1
}
# diff A B ARGS... -> 0/1 as ckpt_diff says; anything else fails the test
diff_ck() {
  local rc=0
  "$DIFF" "$@" || rc=$?
  [ $rc -le 1 ] || fail "ckpt_diff could not compare $1 and $2 (exit $rc)"
  return $rc
}
if ! run probe --set train.backend=cuda --set train.max_steps=1; then
  if grep -qE "no usable CUDA device|built without CUDA" "$T/probe.log"; then
    echo "test_cuda_train: no usable GPU: skipped ($(grep -m1 -oE "no usable CUDA device.*|built without CUDA.*" "$T/probe.log"))"
    exit 77
  fi
  cat "$T/probe.log"; fail "the one-step CUDA probe run failed"
fi
"$LVT" init "$T/p4.json" --out "$T/init.h5" > /dev/null || fail "lvt init"
run cpu --set train.backend=cpu || { cat "$T/cpu.log"; fail "cpu run"; }
run gpu --set train.backend=cuda || { cat "$T/gpu.log"; fail "gpu run"; }
grep -q '"global_step":50' "$T/gpu/metrics.jsonl" || fail "the GPU run did not reach step 50"
diff_ck "$T/cpu/ckpt/last.h5" "$T/gpu/ckpt/last.h5" 1e-3 || fail "GPU weights differ from CPU weights"
diff_ck "$T/init.h5" "$T/cpu/ckpt/last.h5" --moved 1e-3 || fail "the CPU run did not move the weights"
diff_ck "$T/init.h5" "$T/gpu/ckpt/last.h5" --moved 1e-3 || fail "the GPU run did not move the weights"
# graph replay == eager, through the trainer (when it has the switch)
if run eager --set train.backend=cuda --set train.cuda_graph=false; then
  run graph --set train.backend=cuda --set train.cuda_graph=true || { cat "$T/graph.log"; fail "graph run"; }
  grep -q "cuda graph: on" "$T/graph.log" || { cat "$T/graph.log"; fail "the graph run did not use CUDA graphs"; }
  diff_ck "$T/eager/ckpt/last.h5" "$T/graph/ckpt/last.h5" 1e-6 || fail "graph run != eager run"
  echo "test_cuda_train: graph run equals eager run"
elif grep -q "train.cuda_graph" "$T/eager.log" && grep -qi "unknown" "$T/eager.log"; then
  echo "test_cuda_train: the trainer has no train.cuda_graph switch; graph replay == eager is covered by test_cuda_ops"
else
  cat "$T/eager.log"; fail "eager GPU run"
fi
echo "test_cuda_train: passed"
