#!/usr/bin/env bash
# contention.sh — `lvt bench --contend N` at the quickstart shape (D = d = 64, P4 H = 3, B = 64):
# samples/s with 1 and 2 threads, with and without one busy background thread, under libgomp's
# default wait policy (OMP_WAIT_POLICY set empty: what lvt ran with before it chose PASSIVE) and
# under lvt's default (PASSIVE). Medians of REPEAT runs (default 3); the load average is printed.
# usage: bench/contention.sh [CONFIG.json]    env: LVT_BIN, STEPS (default 10), REPEAT (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cfg="${1:-$root/configs/quickstart.json}"
lvt="${LVT_BIN:-$root/build/lvt}"
steps="${STEPS:-10}"
repeat="${REPEAT:-3}"
one() { # POLICY THREADS CONTEND -> samples/s
  if [ "$1" = lvt ]; then env -u OMP_WAIT_POLICY OMP_NUM_THREADS="$2" "$lvt" bench "$cfg" --step p4 --steps "$steps" \
      --warmup 2 --contend "$3" --json
  else OMP_WAIT_POLICY= OMP_NUM_THREADS="$2" "$lvt" bench "$cfg" --step p4 --steps "$steps" --warmup 2 \
      --contend "$3" --json 2> /dev/null; fi | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["train"]["samples_per_s"])'
}
echo "load: $(uptime)"
printf "%-22s %8s %8s %10s\n" "wait policy" threads contend "samples/s"
for pol in default lvt; do
  for t in 1 2; do
    for c in 0 1; do
      v=$(for r in $(seq "$repeat"); do one "$pol" "$t" "$c"; done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      printf "%-22s %8d %8d %10.1f\n" "$([ $pol = lvt ] && echo "PASSIVE (lvt)" || echo "default (spin)")" "$t" "$c" "$v"
    done
  done
done
echo "load: $(uptime)"
