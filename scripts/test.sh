#!/usr/bin/env bash
# test.sh — configure, build and run every ctest suite (GPU tests skip with code 77 without a device),
# then the same suite under AddressSanitizer + UBSan (scripts/test-sanitize.sh) and a bounded run of
# every fuzz target (scripts/fuzz.sh); docs/reliability.md. LVT_TEST_SANITIZE=0 or LVT_TEST_FUZZ=0
# leaves the second or third part out.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${LVT_CMAKE_ARGS:-}
cmake --build "$BUILD" -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
if [ "${LVT_TEST_SANITIZE:-1}" != 0 ]; then bash scripts/test-sanitize.sh; fi
if [ "${LVT_TEST_FUZZ:-1}" != 0 ]; then bash scripts/fuzz.sh; fi
