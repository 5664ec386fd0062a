#!/usr/bin/env bash
# test_ckpt_diff.sh — the checkpoint comparator the GPU tests use (tests/cuda/ckpt_diff.c) can
# fail, and a failure to compare is never read as a result: equal files within 0, different
# seeds beyond 0 (exit 1) and "moved" (exit 0), equal files not "moved" (exit 1), a missing file
# or models of different shapes exit 2. Runs on the CPU.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" ckpt_diff
DIFF="${LVT_CKPT_DIFF:?LVT_CKPT_DIFF not set}"
cat > "$T/a.json" <<CFG
{"model": {"dim": 32, "d_model": 16, "n_heads": 2, "n_layers": 2}, "train": {"seed": 1}}
CFG
sed 's/"d_model": 16/"d_model": 24/' "$T/a.json" > "$T/wide.json"
"$LVT" init "$T/a.json" --out "$T/a1.h5" > /dev/null || fail "init a1"
"$LVT" init "$T/a.json" --out "$T/a1b.h5" > /dev/null || fail "init a1b"
"$LVT" init "$T/a.json" --out "$T/a2.h5" --seed 2 > /dev/null || fail "init a2"
"$LVT" init "$T/wide.json" --out "$T/w.h5" > /dev/null || fail "init wide"
expect() { # code args...
  local want=$1 rc=0; shift
  "$DIFF" "$@" > "$T/out.txt" 2>&1 || rc=$?
  cat "$T/out.txt"
  [ "$rc" = "$want" ] || fail "ckpt_diff $* exited $rc, expected $want"
}
expect 0 "$T/a1.h5" "$T/a1b.h5" 0
expect 1 "$T/a1.h5" "$T/a1b.h5" --moved 0
expect 1 "$T/a1.h5" "$T/a2.h5" 0
expect 0 "$T/a1.h5" "$T/a2.h5" --moved 1e-3
expect 2 "$T/a1.h5" "$T/missing.h5" 1
expect 2 "$T/a1.h5" "$T/w.h5" 1
expect 2 "$T/a1.h5"
echo "test_ckpt_diff: passed"
