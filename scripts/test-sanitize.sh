#!/usr/bin/env bash
# test-sanitize.sh — the whole ctest suite once more, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (LVT_SANITIZE=address,undefined, CPU only) in build-sanitize/
# (docs/reliability.md). Every C file of lvt is instrumented — library, binary, test programs,
# fuzz replays; the python reference tests run unchanged (they only exec instrumented binaries).
# A memory error, a leak through lvt's code or any undefined behaviour fails the test it occurs in.
# Left out: label `build` (build_nompi configures its own, uninstrumented tree);
# rel_hostile_safetensors (it runs lvt under `ulimit -v 2000000`, and ASan cannot reserve its
# shadow memory under a limit on virtual memory; its inputs' kind is replayed by fuzz_replay_*);
# and, to keep CI short, the launcher tests dist_slurm and dist_sweep (7.8 of the 23 minutes
# measured under load; the lvt code they run — training, preemption, resume — runs instrumented
# in the train_* and other dist_* tests); SANITIZE_FULL=1 runs these two too.
# Environment: SANITIZE_BUILD_DIR (default build-sanitize), SANITIZE_CMAKE_ARGS, SANITIZE_FULL,
# CTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${SANITIZE_BUILD_DIR:-build-sanitize}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLVT_CUDA=OFF -DLVT_SANITIZE=address,undefined \
  ${SANITIZE_CMAKE_ARGS:-}
cmake --build "$BUILD" -j"$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
# full malloc stacks so that scripts/lsan.supp can name the library that holds a block
export ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SKIP=(-E '^(rel_hostile_safetensors|dist_slurm|dist_sweep)$')
[ "${SANITIZE_FULL:-0}" = 1 ] && SKIP=(-E '^rel_hostile_safetensors$')
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" -LE '^build$' "${SKIP[@]}" ${CTEST_ARGS:-}
