#!/usr/bin/env bash
# test_gpu_check_list.sh — scripts/gpu-check.sh runs every test of the ctest label `cuda`: its two
# lists (GPU_TESTS, CPU_HALF_TESTS) must name exactly the tests `ctest -N -L cuda` lists (a test
# added to tests/cuda/CMakeLists.txt and forgotten there fails this), the script parses, and its
# rehearsal of the env stage runs here.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" gpu_check_list
BUILD=$(dirname "$LVT")
S="$SRC/scripts/gpu-check.sh"
bash -n "$S" || fail "gpu-check.sh does not parse"
listed=$(grep -E '^(GPU_TESTS|CPU_HALF_TESTS)=' "$S" | sed 's/^[A-Z_]*="//; s/"$//' | tr ' ' '\n' | sort)
labelled=$(ctest --test-dir "$BUILD" -N -L cuda | sed -n 's/^ *Test *#[0-9]*: *//p' | sort)
[ -n "$labelled" ] || fail "ctest lists no cuda tests"
if [ "$listed" != "$labelled" ]; then
  diff <(echo "$listed") <(echo "$labelled")
  fail "gpu-check.sh's test lists differ from the ctest label cuda (< script, > ctest)"
fi
echo "gpu-check.sh names all $(echo "$labelled" | wc -l) tests of the label cuda"
OUT="$T/out" bash "$S" --stages env --prebuilt "$BUILD" > "$T/run.txt" 2>&1 || { cat "$T/run.txt"; fail "gpu-check.sh --stages env"; }
cat "$T/run.txt"
grep -q "^- date:" "$T/out/results.md" || fail "no results file"
grep -q "^- probe: gpu:" "$T/out/results.md" || fail "no probe line"
echo "test_gpu_check_list: passed"
