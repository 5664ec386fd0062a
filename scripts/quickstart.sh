#!/usr/bin/env bash
# quickstart.sh — the main job on the built-in default: build lvt, generate the synthetic
# train/val/ood stores, train the P4 recipe (configs/quickstart.json) on 2 MPI ranks, run 5CAT on
# the best checkpoint, and print a summary table (epoch, phase, val cos, margin).
# usage: scripts/quickstart.sh [RANKS]     (default 2; 1 runs without mpirun)
# env:   BUILD_DIR (default build), LVT_CMAKE_ARGS (extra cmake flags)
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${1:-2}
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release ${LVT_CMAKE_ARGS:-} > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target lvt > /dev/null
LVT="$BUILD/lvt"
mkdir -p data runs
# 300 synthetic articles, dim 64, with a strong forward signal (--drift 1; docs/synth.md)
"$LVT" synth --splits --out data/quickstart.h5 --articles 300 --dim 64 --drift 1 --seed 1
"$LVT" inspect data/quickstart-val.h5
rm -rf runs/quickstart
if [ "$RANKS" -gt 1 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  over=()
  [ "$RANKS" -gt "$(nproc)" ] && over=(--oversubscribe)
  mpirun -np "$RANKS" "${over[@]}" --bind-to none "$LVT" train configs/quickstart.json --run-dir runs/quickstart
else
  "$LVT" train configs/quickstart.json --run-dir runs/quickstart
fi
echo
echo "== 5CAT on runs/quickstart/ckpt/best.h5 (exit 2 = some gates fail) =="
rc=0
"$LVT" eval --model runs/quickstart/ckpt/best.h5 --val data/quickstart-val.h5 --ood data/quickstart-ood.h5 \
  --max-samples 2000 --json runs/quickstart/5cat.json || rc=$?
[ $rc -le 2 ] || exit $rc
echo
echo "== quickstart summary =="
/usr/bin/env python3 - runs/quickstart/training_history.json <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
print("| epoch | phase | train loss | val loss | val cos | margin(+1 vs last) |")
print("|---:|---|---:|---:|---:|---:|")
for e in h["history"]:
    print("| %d | %s | %.5f | %.5f | %.4f | %.4f |" % (e["epoch"], e["phase"], e["train_loss"], e["val_loss"], e["val_cosine"], e["margin"]))
PY
