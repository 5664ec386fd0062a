#!/usr/bin/env bash
# run_bench.sh — lvt bench and its PyTorch counterpart (bench/pytorch_ref.py) side by side, at
# B=64 and B=1024 (override with BATCHES="..."), on the same machine; prints a table with the
# ratio lvt/PyTorch in samples/s (> 1 means lvt is faster).
#
# usage: bench/run_bench.sh [CONFIG.json]          (default configs/p1_baseline.json)
# env:   LVT_BIN (default build/lvt), LVT_PYTHON (default /usr/bin/python3), STEPS (default 10),
#        WARMUP (default 2), THREADS (default 2), BATCHES (default "64 1024"),
#        BACKEND (default: the config's train.backend)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cfg="${1:-$root/configs/p1_baseline.json}"
lvt="${LVT_BIN:-$root/build/lvt}"
py="${LVT_PYTHON:-/usr/bin/python3}"
steps="${STEPS:-10}"
warm="${WARMUP:-2}"
threads="${THREADS:-2}"
batches="${BATCHES:-64 1024}"
backend_flag=()
[ -n "${BACKEND:-}" ] && backend_flag=(--backend "$BACKEND")

[ -x "$lvt" ] || { echo "run_bench.sh: no lvt binary at $lvt (set LVT_BIN)" >&2; exit 1; }
[ -f "$cfg" ] || { echo "run_bench.sh: no config $cfg" >&2; exit 1; }
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for b in $batches; do
  "$lvt" bench "$cfg" --batch "$b" --steps "$steps" --warmup "$warm" --json "${backend_flag[@]}" > "$tmp/lvt_$b.json"
  "$py" "$here/pytorch_ref.py" "$cfg" --batch "$b" --steps "$steps" --warmup "$warm" --threads "$threads" \
      --json > "$tmp/pt_$b.json"
done

"$py" - "$tmp" $batches <<'EOF'
import json, os, platform, sys
d, batches = sys.argv[1], sys.argv[2:]
print("machine: %s, %d CPUs visible; lvt vs PyTorch, same config, same batch" % (platform.machine(), os.cpu_count()))
print("%-6s %-8s %12s %12s %12s %12s %10s %10s %8s" % ("batch", "phase", "lvt ms", "torch ms", "lvt samp/s",
      "torch samp/s", "lvt GF/s", "torch GF/s", "ratio"))
for b in batches:
    l = json.load(open(os.path.join(d, "lvt_%s.json" % b)))
    t = json.load(open(os.path.join(d, "pt_%s.json" % b)))
    for ph in ("forward", "train"):
        lr, tr = l[ph], t[ph]
        print("%-6s %-8s %12.2f %12.2f %12.1f %12.1f %10.2f %10.2f %8.2f" % (b, ph, lr["ms_per_step"],
              tr["ms_per_step"], lr["samples_per_s"], tr["samples_per_s"], lr["gflops"], tr["gflops"],
              lr["samples_per_s"] / tr["samples_per_s"]))
print("lvt backend: %s; torch %s with %d threads" % (l["backend"], t["torch"], t["threads"]))
EOF
