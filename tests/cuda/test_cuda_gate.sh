#!/usr/bin/env bash
# test_cuda_gate.sh — the rule that decides whether a GPU test runs (tests/cuda/gpu_gate.c,
# lvt_cuda_probe) can fail: with LVT_CUDA_REQUIRE=1 a machine without a usable GPU is an error
# (exit 1 naming the reason), not a skip; without it the GPU half is skipped with the reason
# printed. On a GPU machine both runs pass. Also `lvt train` on the cuda backend says why it has
# no device. usage: test_cuda_gate.sh TEST_BINARY (one whose CPU half passes without a GPU)
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" cuda_gate
BIN=$1
rc=0; "$BIN" > "$T/plain.txt" 2>&1 || rc=$?
cat "$T/plain.txt"
[ $rc = 0 ] || fail "$BIN exited $rc without LVT_CUDA_REQUIRE"
rc=0; LVT_CUDA_REQUIRE=1 "$BIN" > "$T/req.txt" 2>&1 || rc=$?
cat "$T/req.txt"
if grep -q "no usable GPU" "$T/plain.txt"; then
  [ $rc = 1 ] || fail "LVT_CUDA_REQUIRE=1 without a GPU: exit $rc, expected 1"
  grep -q "LVT_CUDA_REQUIRE=1" "$T/req.txt" || fail "the failure does not name LVT_CUDA_REQUIRE=1"
  cat > "$T/c.json" <<CFG
{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1}, "train": {"backend": "cuda"}}
CFG
  "$LVT" bench "$T/c.json" --backend cuda --batch 2 --steps 1 --warmup 0 > "$T/bench.txt" 2>&1 && fail "bench on cuda without a GPU succeeded"
  cat "$T/bench.txt"
  grep -qE "no usable CUDA device|built without CUDA" "$T/bench.txt" || fail "lvt does not say why there is no GPU"
  echo "test_cuda_gate: no GPU here: skipped without LVT_CUDA_REQUIRE, failed with it"
else
  [ $rc = 0 ] || fail "LVT_CUDA_REQUIRE=1 with a GPU: exit $rc"
  echo "test_cuda_gate: a GPU is there: both runs passed"
fi
echo "test_cuda_gate: passed"
