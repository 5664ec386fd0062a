#!/usr/bin/env bash
# gpu-check.sh — everything a GPU session checks, in one command and one results file
# (docs/cuda.md, "The GPU check"). Made for a bare GPU machine: CUDA toolkit, cmake, a C compiler
# and PyTorch with CUDA as python3; no Debian -dev packages (the libraries come from gpu-deps/,
# made by scripts/gpu-deps.sh and carried along), no MPI, maybe no h5py (nothing here needs it).
# On a machine without a GPU every stage that needs none still runs and the others report
# "skipped: no device" (a rehearsal).
#
# Stages (--stages, comma-separated; default env,build,tests,math,bench; ~6 min on an H200):
#   env        date, host, GPU, driver, toolkit, compiler, cmake, torch, h5py
#   build      configure (gpu-deps/ when present, LVT_MPI=OFF) and build, unless --prebuilt
#   tests      every test of the ctest label `cuda` with LVT_CUDA_REQUIRE=1 (nothing may skip):
#              every op vs the CPU, the reference model and the P4 objective GPU vs CPU
#              (test_cuda_model), a faulting kernel named, the device optimiser, graph capture,
#              the 50-step P4 training parity CPU vs GPU in fp32 (test_cuda_train)
#   math       the same short P4 run (reference model, B 256, 60 steps) in fp32, tf32, bf16:
#              the loss curves of tf32 and bf16 against fp32 (bounds below)
#   bench      lvt and PyTorch eager steps/s, P1 and P4, B = 64 and 1024 (bench/gpu_bench.sh)
#   bench-full B = 64, 256, 1024, 4096, torch.compile too, the measured GEMM peak and %-of-peak,
#              cuBLAS BF16 pedantic vs default math (issue 13; a second call, ~6 min)
#   recipe     the 20-epoch P4 recipe over a synthetic store of 584,000 windows, timed (target
#              < 180 s; stopped after RECIPE_TIMEOUT, default 480 s), then its 5CAT (a second call)
#   sanitize   test_cuda_ops under compute-sanitizer memcheck (slow; when a kernel is suspect)
#
# usage: scripts/gpu-check.sh [--stages LIST] [--out DIR] [--prebuilt BUILD_DIR]
# env:   LVT_PYTHON (default: the first of python3, /usr/bin/python3 that imports torch),
#        JOBS (build jobs, default nproc), OUT (results directory when --out is not given:
#        the device tool's $OUT, else gpu-check-out/)
# Writes DIR/results.md (one line per check: PASS / FAIL / SKIP, numbers, seconds) and
# DIR/logs/*. Exit 0 when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAGES="env,build,tests,math,bench"
RES_DIR="${OUT:-$ROOT/gpu-check-out}"
PREBUILT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stages) STAGES=$2; shift 2 ;;
    --out) RES_DIR=$2; shift 2 ;;
    --prebuilt) PREBUILT=$2; shift 2 ;;
    -h|--help) sed -n 2,34p "$0"; exit 0 ;;
    *) echo "gpu-check.sh: unknown argument $1" >&2; exit 1 ;;
  esac
done
mkdir -p "$RES_DIR/logs"
RES="$RES_DIR/results.md"
LOGS="$RES_DIR/logs"
WORK="$RES_DIR/work"
mkdir -p "$WORK"
BUILD="${PREBUILT:-$ROOT/build-gpu}"
DEPS="$ROOT/gpu-deps"
[ -d "$DEPS/lib" ] && export LD_LIBRARY_PATH="$DEPS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_WAIT_POLICY=PASSIVE
T_START=$(date +%s)
FAILS=0
HAVE_GPU=0

has_stage() { case ",$STAGES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
line() { echo "$*" | tee -a "$RES"; }
pass() { line "PASS  $1  ($2 s)${3:+  $3}"; }
failed() { line "FAIL  $1  ($2 s)${3:+  $3}"; FAILS=$((FAILS + 1)); }
skip() { line "SKIP  $1  skipped: ${2:-no device}"; }

pick_python() {
  if [ -n "${LVT_PYTHON:-}" ]; then echo "$LVT_PYTHON"; return; fi
  for p in python3 /usr/bin/python3; do
    if command -v "$p" > /dev/null 2>&1 && "$p" -c "import torch" > /dev/null 2>&1; then command -v "$p"; return; fi
  done
  command -v python3 || echo /usr/bin/python3
}
PY=$(pick_python)

# ---- env ------------------------------------------------------------------------------------
stage_env() {
  line "## environment"
  line "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(hostname); cores: $(nproc)"
  if command -v nvidia-smi > /dev/null 2>&1; then
    line "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -1)"
  else
    line "- GPU: nvidia-smi not found"
  fi
  line "- nvcc: $( (nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version 2>/dev/null) | grep -o 'release [0-9.]*' | head -1)"
  line "- cc: $(cc --version 2>/dev/null | head -1); cmake: $(cmake --version 2>/dev/null | head -1)"
  line "- python: $PY; $("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tail -1)"
  line "- h5py: $("$PY" -c 'import h5py; print(h5py.__version__)' 2>/dev/null || echo 'absent (not needed)')"
  line "- gpu-deps: $([ -d "$DEPS/lib" ] && echo "$DEPS ($(du -sh "$DEPS" | cut -f1))" || echo "not present (system libraries)")"
}

# ---- build ----------------------------------------------------------------------------------
stage_build() {
  line "## build"
  local t0; t0=$(now)
  if [ -n "$PREBUILT" ]; then
    [ -x "$BUILD/lvt" ] && pass "build (prebuilt $BUILD)" "$(secs "$t0")" || failed "build" "0" "no lvt in $BUILD"
    return
  fi
  local args=(-S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLVT_MPI=OFF -DLVT_CUDA=ON -DLVT_WERROR=ON)
  if [ -d "$DEPS/lib" ]; then
    args+=(-DCMAKE_PREFIX_PATH="$DEPS" -DHDF5_ROOT="$DEPS" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON
           -DBLAS_LIBRARIES="$DEPS/lib/libopenblas.so.0" -DCBLAS_INCLUDE_DIR="$DEPS/include")
  fi
  if cmake "${args[@]}" > "$LOGS/cmake.log" 2>&1 &&
     cmake --build "$BUILD" -j"${JOBS:-$(nproc)}" > "$LOGS/build.log" 2>&1; then
    pass "build ($(grep -o 'CUDA backend [A-Z]*' "$LOGS/cmake.log" | head -1); $(grep -o 'NCCL not used\|NCCL /[^ ]*' "$LOGS/cmake.log" | head -1))" "$(secs "$t0")"
  else
    failed "build" "$(secs "$t0")" "see logs/cmake.log, logs/build.log: $(grep -m1 -iE 'error' "$LOGS/build.log" "$LOGS/cmake.log" | head -1)"
  fi
}

probe_gpu() {
  local p="$BUILD/tests/cuda/gpu_probe"
  if [ ! -x "$p" ]; then line "- probe: no gpu_probe binary (build failed?)"; return; fi
  local rc=0 msg; msg=$("$p" 2>&1) || rc=$?
  line "- probe: $msg"
  [ $rc = 0 ] && HAVE_GPU=1
  [ $rc = 1 ] && failed "gpu probe" 0 "a GPU is there but unusable: $msg"
}

# run_one NAME TIMEOUT CMD... : one check, its log in logs/NAME.log
run_one() {
  local name=$1 to=$2; shift 2
  local t0 rc=0; t0=$(now)
  timeout "$to" "$@" > "$LOGS/$name.log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then pass "$name" "$(secs "$t0")" "$(summary_of "$name")"
  elif [ $rc = 77 ]; then skip "$name" "$(tail -1 "$LOGS/$name.log")"
  elif [ $rc = 124 ]; then failed "$name" "$(secs "$t0")" "timed out after $to s"
  else failed "$name" "$(secs "$t0")" "exit $rc: $(grep -m2 -E 'FAIL|CHECK|failed|error' "$LOGS/$name.log" | tr '\n' ' ' | cut -c1-300)"
  fi
}
# the numbers worth keeping from a passing test's log
summary_of() {
  case "$1" in
    test_cuda_ops) awk '/worst\/limit/ { if ($NF + 0 > w) { w = $NF + 0; l = $0 } } END { if (l != "") printf "largest worst/limit %.3f:%s", w, l }' "$LOGS/$1.log" | tr -s ' ' | cut -c1-200 ;;
    test_cuda_model) grep -E "gradients|term total" "$LOGS/$1.log" | tr -s ' ' | tr '\n' ';' | cut -c1-300 ;;
    test_cuda_train) grep -E "max \|a-b\||ckpt_diff:" "$LOGS/$1.log" | sed 's/ckpt_diff: //' | head -2 | tr -s ' ' | tr '\n' ';' | cut -c1-300 ;;
    *) ;;
  esac
}

# ---- tests: the ctest label `cuda` (tests/cuda/CMakeLists.txt; test_gpu_check_list checks this
# list against it). GPU_TESTS need a device; the others have CPU halves and always run. ---------
GPU_TESTS="test_cuda_ops test_cuda_model test_cuda_fault test_cuda_train"
CPU_HALF_TESTS="test_devdata test_cuda_optim test_cuda_graph test_ckpt_diff test_cuda_gate test_graph_step test_gpu_check_list test_cuda_ops_selfcheck test_cuda_model_selfcheck"
test_cmd() { # the command of test $1 (as ctest runs it)
  local b="$BUILD/tests/cuda" s="$ROOT/tests/cuda"
  case "$1" in
    test_cuda_ops_selfcheck) echo "env LVT_CUDA_SELFCHECK=1 LVT_CUDA_REQUIRE=0 $b/test_cuda_ops" ;;
    test_cuda_model_selfcheck) echo "env LVT_CUDA_SELFCHECK=1 LVT_CUDA_REQUIRE=0 $b/test_cuda_model" ;;
    test_ckpt_diff|test_cuda_train|test_graph_step|test_gpu_check_list) echo "bash $s/$1.sh" ;;
    test_cuda_gate) echo "bash $s/test_cuda_gate.sh $b/test_cuda_optim" ;;
    *) echo "$b/$1" ;;
  esac
}
stage_tests() {
  line "## tests (label cuda)"
  export LVT_TEST_TMP="$WORK/test-tmp" LVT_BIN="$BUILD/lvt" LVT_PYTHON="$PY" LVT_SOURCE_DIR="$ROOT"
  export LVT_CKPT_DIFF="$BUILD/tests/cuda/ckpt_diff"
  mkdir -p "$LVT_TEST_TMP"
  local t
  for t in $GPU_TESTS; do
    if [ $HAVE_GPU = 1 ]; then run_one "$t" 600 env LVT_CUDA_REQUIRE=1 $(test_cmd "$t")
    else skip "$t"; fi
  done
  for t in $CPU_HALF_TESTS; do
    case "$t" in *selfcheck) [ $HAVE_GPU = 1 ] && continue ;; esac # the real test ran instead
    if [ $HAVE_GPU = 1 ]; then run_one "$t" 300 env LVT_CUDA_REQUIRE=1 $(test_cmd "$t")
    else run_one "$t" 300 $(test_cmd "$t"); fi
  done
}

# ---- data for the training stages -------------------------------------------------------------
# make_data DIR ARTICLES: DIR/train.h5 (ARTICLES articles) and DIR/val.h5, D 768, default profile
make_data() {
  [ -f "$1/train.h5" ] && return 0
  mkdir -p "$1"
  "$BUILD/lvt" synth --out "$1/train.h5" --articles "$2" --dim 768 --seed 1 > "$LOGS/synth_$(basename "$1").log" 2>&1 &&
    "$BUILD/lvt" synth --out "$1/val.h5" --articles 200 --dim 768 --seed 2 >> "$LOGS/synth_$(basename "$1").log" 2>&1
}

# ---- math: fp32 vs tf32 vs bf16 loss curves --------------------------------------------------------
# The same 60-step P4 run (the reference model, the full P4 objective with context drop, B 256,
# seed 7) in the three math modes. Bounds, relative to
# fp32 over the last 20 steps' mean train loss: tf32 2 %, bf16 5 % (TF32 keeps 10 mantissa bits,
# BF16 7: per-GEMM errors ~5e-4 and ~4e-3 relative, which 60 AdamW steps turn into a curve that
# stays within these; docs/cuda.md records the measured distances).
MATH_STEPS=60
stage_math() {
  line "## math modes (P4, reference model, B 256, $MATH_STEPS steps)"
  if [ $HAVE_GPU != 1 ]; then skip "math fp32/tf32/bf16"; return; fi
  make_data "$WORK/math" 400 || { failed "math data" 0 "lvt synth failed"; return; }
  cat > "$WORK/math/p4.json" <<CFG
{"model": {"dim": 768, "d_model": 512, "n_heads": 8, "n_layers": 4, "ffn_mult": 4, "dropout": 0.1},
 "data": {"train": "$WORK/math/train.h5", "val": "$WORK/math/val.h5", "ood": "$WORK/math/val.h5"},
 "train": {"epochs": 1, "global_batch": 256, "backend": "cuda", "log_every": 1, "seed": 7,
           "max_steps": $MATH_STEPS},
 "objective": {"rollout_h": 3, "lambda_roll": 0.1, "lambda_dir": 0.01, "lambda_fut": 0.01,
               "lambda_ac": 0.005, "context_drop_p": 0.05},
 "eval": {"mini5cat_samples": 64}}
CFG
  local m t0 ok=1
  for m in fp32 tf32 bf16; do
    t0=$(now)
    if timeout 300 "$BUILD/lvt" train "$WORK/math/p4.json" --run-dir "$WORK/math/run_$m" --set train.math=$m \
        > "$LOGS/math_$m.log" 2>&1; then
      line "- $m run: $(secs "$t0") s"
    else
      failed "math $m run" "$(secs "$t0")" "see logs/math_$m.log: $(tail -1 "$LOGS/math_$m.log")"; ok=0
    fi
  done
  [ $ok = 1 ] || return
  local out rc=0
  out=$("$PY" - "$WORK/math" <<'PYEOF'
import json, sys
d = sys.argv[1]
def curve(m):
    out = {}
    for l in open("%s/run_%s/metrics.jsonl" % (d, m)):
        r = json.loads(l)
        if "global_step" in r and "loss" in r:
            out[r["global_step"]] = r["loss"]
    return out
ref = curve("fp32")
steps = sorted(ref)
tail = steps[-20:]
bad = 0
for m, bound in (("tf32", 0.02), ("bf16", 0.05)):
    c = curve(m)
    if sorted(c) != steps:
        print("FAIL %s: steps differ from fp32" % m); bad = 1; continue
    mr = sum(ref[s] for s in tail) / len(tail)
    mm = sum(c[s] for s in tail) / len(tail)
    dist = abs(mm - mr) / mr
    worst = max(abs(c[s] - ref[s]) / ref[s] for s in steps)
    ok = dist <= bound
    bad |= not ok
    print("%s %s: last-20 mean loss %.6f vs fp32 %.6f: %.2f %% (bound %.0f %%); worst single step %.2f %%"
          % ("PASS" if ok else "FAIL", m, mm, mr, 100 * dist, 100 * bound, 100 * worst))
sys.exit(bad)
PYEOF
) || rc=$?
  echo "$out" > "$LOGS/math_compare.log"
  while read -r l; do
    case "$l" in PASS*) line "PASS  math ${l#PASS }" ;; *) line "FAIL  math ${l#FAIL }"; FAILS=$((FAILS + 1)) ;; esac
  done <<< "$out"
  [ $rc = 0 ] || [ -n "$out" ] || failed "math compare" 0 "the comparison script failed"
}

# ---- bench --------------------------------------------------------------------------------------
stage_bench() { # $1: batches, $2: 1 for torch.compile, $3: label
  line "## $3"
  if [ $HAVE_GPU != 1 ]; then
    skip "$3"
    # rehearsal: the PyTorch script itself on the CPU (no timing meaning)
    if "$PY" -c "import torch" > /dev/null 2>&1; then
      run_one "pytorch_gpu_ref_smoke_cpu" 300 "$PY" "$ROOT/bench/pytorch_gpu_ref.py" "$ROOT/configs/p1_baseline.json" \
        --batch 4 --objective p4 --device cpu --no-compile --steps 1 --warmup 0 --json
    fi
    return
  fi
  local t0 rc=0; t0=$(now)
  BATCHES="$1" COMPILE="$2" MATH=${MATH:-tf32} STEPS=20 WARMUP=5 OUT="$WORK/bench_$2" LVT_BIN="$BUILD/lvt" \
    LVT_PYTHON="$PY" timeout 900 bash "$ROOT/bench/gpu_bench.sh" "$ROOT/configs/p1_baseline.json" \
    > "$LOGS/bench_$2.log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then
    pass "$3" "$(secs "$t0")"
    sed 's/^/    /' "$LOGS/bench_$2.log" | grep -v "raw results" | tee -a "$RES"
  else
    failed "$3" "$(secs "$t0")" "exit $rc: $(tail -2 "$LOGS/bench_$2.log" | tr '\n' ' ')"
  fi
}

# ---- recipe: 20 epochs of P4 over 584,000 windows, then 5CAT --------------------------------------
RECIPE_WINDOWS=584000
stage_recipe() {
  line "## recipe (configs/p4_rollout.json, 20 epochs, $RECIPE_WINDOWS windows)"
  if [ $HAVE_GPU != 1 ]; then skip "recipe"; return; fi
  local d="$WORK/recipe" t0 rc=0
  mkdir -p "$d"
  t0=$(now)
  # lvt synth's default profile holds 63.8 windows per article (README: 63812 windows / 1000)
  if [ ! -f "$d/synth-train.h5" ]; then
    "$BUILD/lvt" synth --splits --out "$d/synth.h5" --articles $(( RECIPE_WINDOWS * 1000 / 63812 + 200 )) --dim 768 \
      --seed 1 > "$LOGS/recipe_synth.log" 2>&1 || { failed "recipe synth" "$(secs "$t0")" "see logs/recipe_synth.log"; return; }
  fi
  local wins; wins=$("$BUILD/lvt" inspect "$d/synth-train.h5" --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("windows","?"))' 2>/dev/null)
  line "- synthetic store: $wins train windows ($(secs "$t0") s to make)"
  t0=$(now)
  timeout "${RECIPE_TIMEOUT:-480}" "$BUILD/lvt" train "$ROOT/configs/p4_rollout.json" --run-dir "$d/run" \
    --set train.backend=cuda --set data.train="$d/synth-train.h5" --set data.val="$d/synth-val.h5" \
    --set data.ood="$d/synth-ood.h5" > "$LOGS/recipe_train.log" 2>&1 || rc=$?
  local tt; tt=$(secs "$t0")
  line "- $(grep -c '"type":"epoch"' "$d/run/metrics.jsonl" 2>/dev/null || echo 0) epochs done; last: $(grep '"type":"epoch"' "$d/run/metrics.jsonl" 2>/dev/null | tail -1 | cut -c1-240)"
  if [ $rc = 124 ]; then failed "recipe train" "$tt" "not done within RECIPE_TIMEOUT=${RECIPE_TIMEOUT:-480} s"; return; fi
  if [ $rc != 0 ]; then failed "recipe train" "$tt" "exit $rc: $(tail -2 "$LOGS/recipe_train.log" | tr '\n' ' ')"; return; fi
  awk -v t="$tt" 'BEGIN { if (t + 0 < 180) exit 0; exit 1 }' && pass "recipe train (target < 180 s)" "$tt" ||
    line "MISS  recipe train  ($tt s; target < 180 s)"
  t0=$(now); rc=0
  timeout 600 "$BUILD/lvt" eval --model "$d/run/ckpt/best.h5" --val "$d/synth-val.h5" --ood "$d/synth-ood.h5" \
    --backend cuda --json "$RES_DIR/recipe_5cat.json" > "$LOGS/recipe_5cat.log" 2>&1 || rc=$?
  line "- 5CAT ($(secs "$t0") s, exit $rc: 0 all gates pass, 2 some fail):"
  sed 's/^/    /' "$LOGS/recipe_5cat.log" | tail -40 | tee -a "$RES" > /dev/null
  [ $rc -le 2 ] || failed "recipe 5CAT" "$(secs "$t0")" "see logs/recipe_5cat.log"
}

stage_sanitize() {
  line "## compute-sanitizer"
  if [ $HAVE_GPU != 1 ]; then skip "sanitize"; return; fi
  local cs; cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  [ -x "$cs" ] || { skip "sanitize" "no compute-sanitizer"; return; }
  run_one "memcheck_test_cuda_ops" 900 env LVT_CUDA_REQUIRE=1 "$cs" --tool memcheck --error-exitcode 9 "$BUILD/tests/cuda/test_cuda_ops"
}

# ---- run ------------------------------------------------------------------------------------------
: > "$RES"
line "# lvt gpu-check ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no git")$(git -C "$ROOT" diff --quiet 2>/dev/null || echo "+changes")), stages $STAGES"
has_stage env && stage_env
has_stage build && stage_build
probe_gpu
has_stage tests && stage_tests
has_stage math && stage_math
has_stage bench && stage_bench "64 1024" 0 "bench (B 64, 1024; eager)"
has_stage bench-full && stage_bench "64 256 1024 4096" 1 "bench-full (B 64..4096; eager and torch.compile; GEMM peak)"
has_stage recipe && stage_recipe
has_stage sanitize && stage_sanitize
line ""
line "gpu-check: $FAILS failed; $(( $(date +%s) - T_START )) s in all; results in $RES"
[ $FAILS = 0 ]
