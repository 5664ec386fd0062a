#!/usr/bin/env bash
# gpu_bench.sh — lvt on the GPU against PyTorch on the same GPU (bench/pytorch_gpu_ref.py, eager
# and torch.compile): steps/s of a full training step for P1 (MSE) and P4 (rollout H=3 and every
# guard term) at B = 64, 256, 1024, 4096 (override with BATCHES), as ratios lvt / PyTorch, with
# achieved TFLOP/s (analytic matmul FLOPs, docs/bench.md) against the GPU's measured GEMM peak.
#
# lvt P1: `lvt bench --backend cuda` (train phase). lvt P4: a short `lvt train` on synthetic
# articles at global_batch B, steps/s from the last metrics.jsonl record (its samples_per_s is
# the run average, warm-up included: conservative for lvt).
#
# usage: bench/gpu_bench.sh [CONFIG.json]          (default configs/p1_baseline.json: D=768, d=512)
# env:   LVT_BIN (default build/lvt), LVT_PYTHON (default /usr/bin/python3), MATH (fp32|tf32|bf16,
#        default tf32), STEPS (default 20), WARMUP (default 5), BATCHES (default "64 256 1024 4096"),
#        COMPILE (1: also torch.compile, default 1), OUT (directory for the raw JSON, default a
#        temporary one), LVT_GPU_GEMM (bench/gpu_gemm's binary: lvt's own GEMM per math mode is
#        printed too; default: next to LVT_BIN in tests/cuda/ when built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cfg="${1:-$root/configs/p1_baseline.json}"
lvt="${LVT_BIN:-$root/build/lvt}"
py="${LVT_PYTHON:-/usr/bin/python3}"
math="${MATH:-tf32}"
steps="${STEPS:-20}"
warm="${WARMUP:-5}"
batches="${BATCHES:-64 256 1024 4096}"
[ -x "$lvt" ] || { echo "gpu_bench.sh: no lvt binary at $lvt (set LVT_BIN)" >&2; exit 1; }
compile="${COMPILE:-1}"
nocompile=""; [ "$compile" = 1 ] || nocompile="--no-compile"
gemm="${LVT_GPU_GEMM:-$(dirname "$lvt")/tests/cuda/gpu_gemm}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
dim=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("model",{}).get("dim",768))' "$cfg")

# synthetic stores big enough for the largest batch without crossing an epoch
maxb=0; for b in $batches; do [ "$b" -gt "$maxb" ] && maxb=$b; done
need=$(( maxb * (steps + warm + 2) ))
articles=$(( need / 40 + 64 ))   # lvt synth articles hold ~60 windows each (L=5)
if [ ! -f "$out/train.h5" ]; then
  "$lvt" synth --out "$out/train.h5" --articles "$articles" --dim "$dim" --seed 1 > /dev/null
  "$lvt" synth --out "$out/val.h5" --articles 64 --dim "$dim" --seed 2 > /dev/null
fi

"$py" "$here/pytorch_gpu_ref.py" "$cfg" --batch 64 --steps 1 --warmup 1 --no-compile --peak --math "$math" \
  --json > "$out/peak.json"
for b in $batches; do
  "$lvt" bench "$cfg" --backend cuda --batch "$b" --steps "$steps" --warmup "$warm" --set train.math="$math" \
    --json > "$out/lvt_p1_$b.json"
  "$lvt" train "$cfg" --run-dir "$out/run_p4_$b" --set train.backend=cuda --set train.math="$math" \
    --set data.train="$out/train.h5" --set data.val="$out/val.h5" --set data.ood="$out/val.h5" \
    --set train.global_batch="$b" --set train.max_steps=$(( steps + warm )) --set train.log_every=1 \
    --set objective.rollout_h=3 --set objective.lambda_roll=0.1 --set objective.lambda_dir=0.01 \
    --set objective.lambda_fut=0.01 --set objective.lambda_ac=0.005 --set objective.context_drop_p=0 \
    > "$out/lvt_p4_$b.log" 2>&1 || { tail -5 "$out/lvt_p4_$b.log"; echo "gpu_bench.sh: lvt P4 run failed" >&2; exit 1; }
  for obj in p1 p4; do
    "$py" "$here/pytorch_gpu_ref.py" "$cfg" --batch "$b" --objective "$obj" --rollout-h 3 --math "$math" \
      --steps "$steps" --warmup "$warm" $nocompile --json > "$out/pt_${obj}_$b.json"
  done
done

if [ -x "$gemm" ]; then
  echo "lvt GEMM (ops->gemm, cuda backend):"
  "$gemm" $([ "$compile" = 1 ] || echo --quick) | sed 's/^/  /'
fi
"$py" - "$out" "$math" $batches <<'PYEOF'
import json, os, sys
d, math, batches = sys.argv[1], sys.argv[2], sys.argv[3:]
peak = json.load(open(os.path.join(d, "peak.json")))
pk = peak["peak_tflops"]
print("GPU: %s; measured GEMM peak: fp32 %.1f, tf32 %.1f, bf16 %.1f TFLOP/s; math %s"
      % (peak["gpu"], pk["fp32"], pk["tf32"], pk["bf16"], math))
pkm = pk[math]
print("%-4s %6s %11s %11s %11s %9s %9s %9s %7s" % ("obj", "batch", "lvt st/s", "eager st/s", "compile st/s",
      "lvt/eager", "lvt/comp", "lvt TF/s", "%peak"))
for obj in ("p1", "p4"):
    for b in batches:
        pt = json.load(open(os.path.join(d, "pt_%s_%s.json" % (obj, b))))
        flops = pt["flops_per_step"]
        if obj == "p1":
            lvt = json.load(open(os.path.join(d, "lvt_p1_%s.json" % b)))["train"]["steps_per_s"]
        else:
            recs = [json.loads(l) for l in open(os.path.join(d, "run_p4_%s" % b, "metrics.jsonl")) if '"samples_per_s"' in l]
            lvt = recs[-1]["samples_per_s"] / float(b)
        eager = pt["eager"]["steps_per_s"]
        comp = pt.get("compile", {}).get("steps_per_s")
        print("%-4s %6s %11.2f %11.2f %11s %9.2f %9s %9.2f %6.1f%%" % (obj, b, lvt, eager,
              "%.2f" % comp if comp else "n/a", lvt / eager, "%.2f" % (lvt / comp) if comp else "n/a",
              lvt * flops * 1e-12, 100.0 * lvt * flops * 1e-12 / pkm))
        if not comp:
            print("      torch.compile: %s" % pt.get("compile", {}).get("error", "not run"))
print("raw results: %s" % d)
PYEOF
