#!/usr/bin/env bash
# run_bench.sh — lvt bench and its PyTorch counterpart (bench/pytorch_ref.py) side by side, for the
# eval forward, the P1 step and the P4 step (lvt bench --step eval|p1|p4) at B = 64, 256, 1024, on
# the same machine, with the same BLAS core (lvt's selection is exported to PyTorch: when torch's
# BLAS is OpenBLAS it uses the same kernels), the same thread count and OpenMP wait policy. Each (batch, step) pair runs
# lvt then PyTorch back to back, REPEAT times; the table shows medians, the ratio lvt/PyTorch of
# samples/s (> 1 means lvt is faster), the measured sgemm peak (2048^3 square, sgemm_peak --square,
# the larger of a run before and one after) and each step's fraction of it. docs/bench.md.
#
# usage: bench/run_bench.sh [CONFIG.json]          (default configs/p1_baseline.json)
# env:   LVT_BIN (default build/lvt), SGEMM_BIN (default build/tests/ops/sgemm_peak),
#        LVT_PYTHON (default /usr/bin/python3), STEPS (timed steps, default 10), WARMUP (default 2),
#        THREADS (default 2), BATCHES (default "64 256 1024"), STEP_KINDS (default "eval p1 p4a p4i":
#        P4 with the flat penalty forced active / inactive, objective.flat_threshold -1 / 1 on both
#        sides; p4 keeps the config's threshold),
#        REPEAT (default 1), CONTEND (busy threads for lvt bench --contend, default 0),
#        BACKEND (default: the config's train.backend), MATH (fp32 default | bf16: lvt's train.math bf16,
#        AMX GEMMs with fp32 master weights, against PyTorch with the model in bfloat16; docs/bench.md)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cfg="${1:-$root/configs/p1_baseline.json}"
lvt="${LVT_BIN:-$root/build/lvt}"
sgemm="${SGEMM_BIN:-$root/build/tests/ops/sgemm_peak}"
py="${LVT_PYTHON:-/usr/bin/python3}"
steps="${STEPS:-10}"
warm="${WARMUP:-2}"
threads="${THREADS:-2}"
batches="${BATCHES:-64 256 1024}"
kinds="${STEP_KINDS:-eval p1 p4a p4i}"
repeat="${REPEAT:-1}"
contend="${CONTEND:-0}"
math="${MATH:-fp32}"
case "$math" in fp32|bf16) ;; *) echo "run_bench.sh: MATH must be fp32 or bf16, got '$math'" >&2; exit 1 ;; esac
backend_flag=()
[ -n "${BACKEND:-}" ] && backend_flag=(--backend "$BACKEND")

[ -x "$lvt" ] || { echo "run_bench.sh: no lvt binary at $lvt (set LVT_BIN)" >&2; exit 1; }
[ -f "$cfg" ] || { echo "run_bench.sh: no config $cfg" >&2; exit 1; }
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
# The core lvt selects (docs/bench.md, "BLAS core selection"), for both sides, unless the user set one.
if [ -z "${OPENBLAS_CORETYPE+x}" ]; then
  core="$("$lvt" bench "$cfg" --step eval --batch 1 --steps 1 --warmup 0 --json "${backend_flag[@]}" |
          "$py" -c 'import json,sys; print(json.load(sys.stdin)["blas"]["core"] or "")')"
  [ -n "$core" ] && export OPENBLAS_CORETYPE="$core"
fi
# The OpenMP wait policy lvt chooses (PASSIVE, docs/bench.md "Contention"), for both sides unless
# the user set one: PyTorch's libgomp would otherwise spin, which on a loaded machine measures the
# wait policy rather than the two implementations.
[ -z "${OMP_WAIT_POLICY+x}" ] && export OMP_WAIT_POLICY=PASSIVE

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
peak() { [ -x "$sgemm" ] && "$sgemm" --square --seconds 0.3 | awk '/square/ {print $4}' || echo 0; }
uptime > "$tmp/load_before"
peak > "$tmp/peak_before"
for b in $batches; do
  for k in $kinds; do
    # p4a / p4i: the P4 step with the flat penalty forced active (threshold -1: every rollout slot's
    # backward runs, lvt's most expensive P4 step) or inactive (threshold 1, the regime of a trained
    # model: lvt skips the zero-gradient slots' backward, PyTorch's autograd still runs it); plain p4
    # keeps the config's threshold, where the bench's random model is near it (docs/bench.md)
    step="$k" lvt_x=() pt_x=()
    case "$k" in
      p4a) step=p4 lvt_x=(--set objective.flat_threshold=-1) pt_x=(--flat-threshold -1) ;;
      p4i) step=p4 lvt_x=(--set objective.flat_threshold=1) pt_x=(--flat-threshold 1) ;;
    esac
    for r in $(seq "$repeat"); do
      "$lvt" bench "$cfg" --step "$step" --batch "$b" --steps "$steps" --warmup "$warm" --contend "$contend" \
          --set train.math="$math" "${lvt_x[@]}" --json "${backend_flag[@]}" > "$tmp/lvt_${b}_${k}_$r.json"
      "$py" "$here/pytorch_ref.py" "$cfg" --step "$step" --batch "$b" --steps "$steps" --warmup "$warm" \
          --threads "$threads" --math "$math" "${pt_x[@]}" --json > "$tmp/pt_${b}_${k}_$r.json"
    done
  done
done
peak > "$tmp/peak_after"
uptime > "$tmp/load_after"

"$py" - "$tmp" "$repeat" "$batches" "$kinds" <<'EOF'
import glob, json, os, platform, statistics, sys
d, repeat, batches, kinds = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
rd = lambda n: open(os.path.join(d, n)).read().strip()
peaks = [float(rd(n) or 0) for n in ("peak_before", "peak_after")]
peak = max(peaks)
print("machine: %s, %d CPUs visible; lvt vs PyTorch, same config, batch, BLAS core and threads" %
      (platform.machine(), os.cpu_count()))
print("load before: %s\nload after:  %s" % (rd("load_before"), rd("load_after")))
print("sgemm peak (2048^3, before / after): %.1f / %.1f GFLOP/s" % tuple(peaks))
print("%-6s %-5s %11s %11s %11s %11s %9s %9s %7s %7s %7s %9s %8s %5s" % ("batch", "step", "lvt ms", "torch ms",
      "lvt samp/s", "torch samp/s", "lvt GF/s", "torch GF/s", "ratio", "lvt %pk", "pt %pk", "GEMM ms", "ceiling",
      "skip"))
med = statistics.median
for b in batches:
    for k in kinds:
        ph = "forward" if k == "eval" else "train"
        R = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, "lvt_%s_%s_*.json" % (b, k))))]
        L = [r[ph] for r in R]
        T = [json.load(open(f))[ph] for f in sorted(glob.glob(os.path.join(d, "pt_%s_%s_*.json" % (b, k))))]
        lm, tm = med(x["ms_per_step"] for x in L), med(x["ms_per_step"] for x in T)
        ls, ts = med(x["samples_per_s"] for x in L), med(x["samples_per_s"] for x in T)
        lg, tg = med(x["gflops"] for x in L), med(x["gflops"] for x in T)
        pk = lambda g: "%6.1f%%" % (100 * g / peak) if peak > 0 else "    n/a"
        # lvt's measured GEMM time in the step, and the ratio lvt would reach if nothing but its GEMMs
        # took time (PyTorch ms / lvt GEMM ms): the bound the BLAS sets (docs/bench.md, "GEMM share")
        G = [r.get("gemm") for r in R]
        gm = med(g["ms_per_step"] for g in G) if all(G) else None
        gs, cs = ("%9.2f" % gm, "%8.2f" % (tm / gm)) if gm else ("%9s" % "-", "%8s" % "-")
        # P4: lvt's later rollout slots per step whose backward was skipped (exactly zero gradient)
        sk = [r["rollout_backward"]["slots_skipped"] for r in R if r.get("rollout_backward")]
        ss = "%5.2f" % med(sk) if sk else "%5s" % "-"
        print("%-6s %-5s %11.2f %11.2f %11.1f %11.1f %9.2f %9.2f %7.2f %7s %7s %s %s %s" % (b, k, lm, tm, ls, ts, lg,
              tg, ls / ts, pk(lg), pk(tg), gs, cs, ss))
l = json.load(open(sorted(glob.glob(os.path.join(d, "lvt_*.json")))[0]))
t = json.load(open(sorted(glob.glob(os.path.join(d, "pt_*.json")))[0]))
bl = l["blas"]
print("lvt backend %s, BLAS %s %s (%s) core %s, %s threads, GEMMs in %s; torch %s with %d threads, math %s; "
      "OMP_WAIT_POLICY %s; medians of %d run(s); lvt contention: %d busy thread(s)" % (l["backend"], bl["library"],
      bl["version"], bl.get("threading", "?"), bl["core"], bl["threads"], l.get("gemm_math", "?"), t["torch"],
      t["threads"], t.get("math", "fp32"), os.environ.get("OMP_WAIT_POLICY", "unset"), repeat, l.get("contend", 0)))
EOF
