#!/usr/bin/env bash
# build_nompi.sh — the LVT_MPI=OFF, LVT_CUDA=OFF variant (what a machine without MPI, such as the
# lent GPU machine, builds) configures, builds with -Werror, and trains a tiny run in one process.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" build_nompi
cmake -S "$SRC" -B "$T/build" -DLVT_MPI=OFF -DLVT_CUDA=OFF -DLVT_WERROR=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release > "$T/cmake.log" 2>&1 || { cat "$T/cmake.log"; fail "configure"; }
grep -q "lvt: CUDA backend OFF, MPI OFF" "$T/cmake.log" || fail "variant not selected"
cmake --build "$T/build" -j2 --target lvt > "$T/build.log" 2>&1 || { tail -30 "$T/build.log"; fail "build"; }
if ldd "$T/build/lvt" | grep -q libmpi; then fail "the no-MPI binary links MPI"; fi
B="$T/build/lvt"
"$B" synth --out "$T/tr.h5" --articles 40 --dim 16 --seed 1 > /dev/null || fail "synth"
"$B" synth --out "$T/va.h5" --articles 10 --dim 16 --seed 2 > /dev/null || fail "synth"
cat > "$T/c.json" <<CFG
{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1},
 "data": {"train": "$T/tr.h5", "val": "$T/va.h5", "ood": "$T/va.h5"},
 "train": {"epochs": 1, "global_batch": 32, "backend": "cpu"}}
CFG
"$B" train "$T/c.json" --run-dir "$T/run" > "$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train"; }
grep -q "world 1" "$T/run/training.log" || fail "not a single-process run"
echo "build_nompi: passed"
