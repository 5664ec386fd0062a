#!/usr/bin/env bash
# same-weights.sh — does a change alter training? Builds a reference revision of lvt beside the
# current tree, trains the quickstart config (fixed seed, 1 rank, CPU, 1 thread) with both binaries
# on the same synthetic stores, and demands bit-identical checkpoints (parameters, optimiser
# state, trainer state) and identical per-epoch metrics. Used for refactors that must not change
# behaviour (docs/architecture.md, "Checking a refactor").
# usage: scripts/same-weights.sh [REV] [EPOCHS]
#   REV     the reference revision (default: the commit before the layer refactor, 39d7ef5)
#   EPOCHS  epochs of the quickstart config to run (default 8: every phase and tripwire window)
# env: BUILD_DIR (the current tree's build, default build), KEEP=1 keeps the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-39d7ef5}
EPOCHS=${2:-8}
BUILD=${BUILD_DIR:-build}
W=$(mktemp -d /tmp/lvt-same-weights.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'git worktree remove --force "$W/ref" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT

echo "same-weights: building the current tree ($BUILD) and $REV ($W/ref)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > "$W/cur-cmake.log"
cmake --build "$BUILD" -j"$(nproc)" --target lvt > "$W/cur-build.log"
git worktree add --detach "$W/ref" "$REV" > /dev/null 2>&1
cmake -S "$W/ref" -B "$W/ref/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF > "$W/ref-cmake.log"
cmake --build "$W/ref/build" -j"$(nproc)" --target lvt > "$W/ref-build.log"

CUR="$PWD/$BUILD/lvt"
REF="$W/ref/build/lvt"
# Both sides on the same OpenBLAS kernels: lvt selects a core when OpenBLAS falls back to a generic
# one (docs/bench.md, "BLAS core selection"), an older revision does not. A user's
# OPENBLAS_CORETYPE wins; else the core the current lvt runs.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core=$("$CUR" --version | sed -n 's/.*, core \([A-Za-z0-9]*\).*/\1/p' | head -1)
  [ -n "$core" ] && export OPENBLAS_CORETYPE="$core"
fi
echo "same-weights: OpenBLAS core ${OPENBLAS_CORETYPE:-default} for both"
mkdir -p "$W/data" "$W/cfg"
"$CUR" synth --splits --out "$W/data/quickstart.h5" --articles 300 --dim 64 --drift 1 --seed 1 > /dev/null
cp configs/quickstart.json "$W/cfg/quickstart.json"
for side in ref cur; do
  bin=$REF; [ $side = cur ] && bin=$CUR
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$bin" train "$W/cfg/quickstart.json" --run-dir "$W/run-$side" \
    --set train.epochs="$EPOCHS" --set train.backend=cpu > "$W/$side.log" 2>&1 || { tail "$W/$side.log"; exit 1; }
done

fail=0
for ck in last.h5 best.h5; do
  # the whole file (params, optim, trainer state) except /extra/train.history, which holds
  # wall-clock timings (its numbers are compared below without them), and /config, the resolved
  # config echo, which gains keys as features are added, and /extra/train.epoch_close, a trainer
  # state key newer than the default reference (docs/reliability.md: 2 = written while closing an
  # improved epoch; both files here are written at an epoch close)
  X=(--exclude-path /extra/train.history --exclude-path /config --exclude-path /extra/train.epoch_close)
  if ! h5diff -q "${X[@]}" "$W/run-ref/ckpt/$ck" "$W/run-cur/ckpt/$ck" > /dev/null 2>&1; then
    echo "same-weights: $ck differs"
    h5diff "${X[@]}" "$W/run-ref/ckpt/$ck" "$W/run-cur/ckpt/$ck" | head -8 || true
    fail=1
  fi
done
# the per-epoch numbers (all but wall-clock timings) must be identical too
/usr/bin/env python3 - "$W/run-ref/training_history.json" "$W/run-cur/training_history.json" <<'PY' || fail=1
import json, sys
def rows(p):
    out = []
    for e in json.load(open(p))["history"]:
        out.append({k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")})
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
bad = [(i + 1, k) for i, (x, y) in enumerate(zip(a, b)) for k in x if x.get(k) != y.get(k)]
if len(a) != len(b) or bad:
    print("same-weights: training_history differs:", bad[:5] or "epoch count")
    sys.exit(1)
PY
if [ $fail = 0 ]; then
  echo "same-weights: identical — $EPOCHS epochs, params, optimiser and trainer state bit-identical to $REV"
fi
exit $fail
