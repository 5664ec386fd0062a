#!/usr/bin/env bash
# sweep_rollout_h.sh — sweep the rollout horizon H and λ_roll: one training run per (H, λ_roll),
# each followed by 5CAT on its best checkpoint; one CSV row per run.
#
# usage: launch/sweep_rollout_h.sh CONFIG.json OUT_DIR [--h "2 3 4"] [--lambda "0.05 0.1"]
#                                  [--slurm] [--np N] [-- extra lvt train args]
#   local (default): runs sequentially here (mpirun -np N when --np > 1)
#   --slurm: submits one SLURM job array (one task per combination) running this script with
#            --task; `sbatch --wait` blocks until all are done, then the CSV is collected.
# CSV: OUT_DIR/sweep.csv with rollout_h, lambda_roll, val_cos, margin, best_val_loss, seconds,
#      samples_per_s, the 5CAT VAL/OOD headline metrics and gates passed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LVT=${LVT:-$here/build/lvt}
[ $# -ge 2 ] || { sed -n '2,13p' "$0"; exit 1; }
CONFIG=$1; OUT=$2; shift 2
HS="2 3 4"; LAMBDAS="0.05 0.1"; SLURM=0; NP=1; TASK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --h) HS=$2; shift 2 ;;
    --lambda) LAMBDAS=$2; shift 2 ;;
    --slurm) SLURM=1; shift ;;
    --np) NP=$2; shift 2 ;;
    --task) TASK=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "sweep_rollout_h.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
EXTRA=("$@")
mkdir -p "$OUT"
combos=()
for h in $HS; do for l in $LAMBDAS; do combos+=("$h:$l"); done; done

cfg_get() { # key from the resolved config (data paths for eval)
  "$LVT" config show "$CONFIG" "${SETS[@]}" | /usr/bin/env python3 -c "import json,sys; c=json.load(sys.stdin); print(c$1)" 2>/dev/null || true
}

run_one() { # $1 = "H:LAMBDA"
  local h=${1%%:*} l=${1##*:}
  local dir="$OUT/h${h}_l${l}"
  SETS=(--set "objective.rollout_h=$h" --set "objective.lambda_roll=$l")
  # phases of the recipe override the objective's knobs: pin H and λ_roll in every phase too
  local launcher=()
  if [ "$NP" -gt 1 ]; then launcher=(mpirun --oversubscribe -np "$NP"); [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root); fi
  local t0=$(date +%s.%N)
  "${launcher[@]}" "$LVT" train "$CONFIG" --run-dir "$dir" "${SETS[@]}" --set curriculum=[] "${EXTRA[@]}" \
      > "$dir.train.log" 2>&1 || { echo "run $1 failed (see $dir.train.log)" >&2; return 1; }
  local t1=$(date +%s.%N)
  local val ood
  val=$("$LVT" config show "$dir/config.json" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['data']['val'])")
  ood=$("$LVT" config show "$dir/config.json" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['data']['ood'])")
  local ev=0
  "$LVT" eval --model "$dir/ckpt/best.h5" --val "$val" --ood "$ood" --json "$dir/5cat.json" > "$dir.5cat.txt" 2>&1 || ev=$?
  [ "$ev" -le 2 ] || { echo "5CAT of $1 failed (see $dir.5cat.txt)" >&2; return 1; }
  /usr/bin/python3 - "$dir" "$h" "$l" "$t0" "$t1" > "$dir.row.csv" <<'PY'
import json, sys
d, h, l, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
hist = json.load(open(d + "/training_history.json"))
last = hist["history"][-1]
sps = sum(e.get("samples_per_s", 0) for e in hist["history"]) / max(1, len(hist["history"]))
r = json.load(open(d + "/5cat.json"))
def g(split, *keys):
    v = r.get(split, {})
    for k in keys:
        v = v.get(k, {}) if isinstance(v, dict) else {}
    return v if isinstance(v, (int, float)) else ""
row = [h, l, last.get("val_cosine"), last.get("margin"), hist.get("best_val_loss"), round(t1 - t0, 1), round(sps, 1),
       g("val", "A", "cos_p1"), g("val", "A", "margin"), g("ood", "A", "cos_p1"), g("ood", "A", "margin"),
       g("val", "B", "r1"), g("val", "D", "cos"), r.get("gates_passed", r.get("n_pass", "")), r.get("all_pass", "")]
print(",".join(str(x) for x in row))
PY
}

if [ -n "$TASK" ]; then run_one "${combos[$TASK]}"; exit $?; fi

if [ "$SLURM" = 1 ]; then
  n=${#combos[@]}
  sbatch --wait --array=0-$((n - 1)) --job-name=lvt-sweep --output="$OUT/sweep-%A_%a.out" \
    --wrap "LVT=$LVT bash $0 $CONFIG $OUT --h '$HS' --lambda '$LAMBDAS' --np $NP --task \$SLURM_ARRAY_TASK_ID -- ${EXTRA[*]}"
else
  for c in "${combos[@]}"; do run_one "$c"; done
fi
{
  echo "rollout_h,lambda_roll,val_cos,margin,best_val_loss,seconds,samples_per_s,val_cos_p1,val_margin,ood_cos_p1,ood_margin,val_r1,val_rollout,gates_passed,all_pass"
  for c in "${combos[@]}"; do cat "$OUT/h${c%%:*}_l${c##*:}.row.csv"; done
} > "$OUT/sweep.csv"
echo "sweep: $OUT/sweep.csv"
cat "$OUT/sweep.csv"
