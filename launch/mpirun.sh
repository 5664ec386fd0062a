#!/usr/bin/env bash
# mpirun.sh — launch `lvt train` data-parallel with Open MPI on one or more hosts.
#
# usage: launch/mpirun.sh [-n RANKS_PER_NODE] [-H host1,host2,...] [-g GPUS_PER_NODE] [--] CONFIG.json [lvt train args...]
#   -n  ranks per node (default: GPUs per node when -g is given, else 2)
#   -H  comma-separated hosts (default: this host only)
#   -g  GPUs per node: each local rank is bound to GPU = local rank (lvt picks it from the
#       node-local rank; CUDA_VISIBLE_DEVICES is left alone) and the backend is set to cuda
# Environment: LVT (path of the binary, default build/lvt), MPIRUN (default mpirun),
#              MPI_EXTRA (extra mpirun flags, e.g. "--mca btl_tcp_if_include eth0").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LVT=${LVT:-$here/build/lvt}
MPIRUN=${MPIRUN:-mpirun}
per_node=""
hosts=""
gpus=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) per_node=$2; shift 2 ;;
    -H) hosts=$2; shift 2 ;;
    -g) gpus=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "mpirun.sh: missing CONFIG.json (see --help)" >&2; exit 1; }
[ -x "$LVT" ] || { echo "mpirun.sh: $LVT is not built (cmake --build build)" >&2; exit 1; }
if [ -z "$per_node" ]; then
  if [ "$gpus" -gt 0 ]; then per_node=$gpus; else per_node=2; fi
fi
nodes=1
host_args=()
if [ -n "$hosts" ]; then
  nodes=$(echo "$hosts" | tr ',' '\n' | grep -c .)
  host_args=(--host "$(echo "$hosts" | sed "s/\([^,]*\)/\1:$per_node/g")")
fi
np=$((nodes * per_node))
extra=()
if [ "$gpus" -gt 0 ]; then extra+=(--set train.backend=cuda); fi
root_args=()
if [ "$(id -u)" = 0 ]; then root_args=(--allow-run-as-root); fi
cores=$(nproc)
over=()
if [ "$per_node" -gt "$cores" ]; then over=(--oversubscribe); fi
set -x
exec "$MPIRUN" "${root_args[@]}" "${over[@]}" -np "$np" "${host_args[@]}" --map-by "ppr:$per_node:node" \
  --bind-to none ${MPI_EXTRA:-} "$LVT" train "$@" "${extra[@]}"
