#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer targets (clang, LVT_FUZZ=ON: ASan + UBSan + coverage; CPU only,
# no MPI) in build-fuzz/ and fuzz each for LVT_FUZZ_SECONDS (default 40) from the committed seed
# corpus (tests/fuzz/; docs/reliability.md). A crash, a sanitizer report, an allocation over
# 256 MB or an input over 20 s fails its test; the input is kept in build-fuzz/fuzz/<target>/artifacts/.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), LVT_FUZZ_SECONDS, CTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECS=${LVT_FUZZ_SECONDS:-40}
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DLVT_FUZZ=ON -DLVT_CUDA=OFF \
  -DLVT_MPI=OFF -DLVT_FUZZ_SECONDS="$SECS"
cmake --build "$BUILD" -j"$(nproc)" --target fuzz_targets
export OMP_WAIT_POLICY=PASSIVE
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" -L '^fuzz$' ${CTEST_ARGS:-}
