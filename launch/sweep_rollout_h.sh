#!/usr/bin/env bash
# sweep_rollout_h.sh — sweep the rollout horizon H and λ_roll: one training run per (H, λ_roll),
# each followed by 5CAT on its best checkpoint; one CSV row per run.
#
# usage: launch/sweep_rollout_h.sh CONFIG.json OUT_DIR [--h "2 3 4"] [--lambda "0.05 0.1"]
#                                  [--np N] [--slurm] [-- extra lvt train args]
#   local (default): the runs go one after the other here (under mpirun -np N when N > 1)
#   --slurm: one SLURM job array, a task per combination (each task runs this script with
#            --task I); `sbatch --wait` returns when all are done, then the CSV is collected
# Each run's config is CONFIG with H and λ_roll put wherever the recipe sets them: the objective
# and every curriculum phase that sets rollout_h / lambda_roll (so the curriculum keeps its
# epochs). Runs: OUT_DIR/h<H>_l<λ>/ (config, checkpoints, logs, 5cat.json).
# CSV OUT_DIR/sweep.csv: rollout_h, lambda_roll, val_cos, margin, best_val_loss, train_seconds,
#   samples_per_s, 5CAT VAL/OOD cos(+1) and margin(+1), VAL R@1, VAL rollout cos, checks passed,
#   all gates passed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LVT=${LVT:-$here/build/lvt}
PY=${LVT_PYTHON:-/usr/bin/python3}
[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 1; }
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
OUT=$(cd "$OUT" && pwd)
combos=()
for h in $HS; do for l in $LAMBDAS; do combos+=("$h:$l"); done; done

run_one() { # "H:LAMBDA"
  local h=${1%%:*} l=${1##*:}
  local dir="$OUT/h${h}_l${l}"
  rm -rf "$dir"; mkdir -p "$dir"
  "$LVT" config show "$CONFIG" | "$PY" -c '
import json, sys
c = json.load(sys.stdin); h, l = int(sys.argv[1]), float(sys.argv[2])
c["objective"]["rollout_h"] = h; c["objective"]["lambda_roll"] = l
for p in c["curriculum"]:
    if "rollout_h" in p: p["rollout_h"] = h
    if "lambda_roll" in p: p["lambda_roll"] = l
json.dump(c, open(sys.argv[3], "w"), indent=1)' "$h" "$l" "$dir/sweep_config.json"
  local launcher=()
  if [ "$NP" -gt 1 ]; then
    launcher=(mpirun --oversubscribe --bind-to none -np "$NP")
    [ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
  fi
  local t0 t1
  t0=$(date +%s.%N)
  "${launcher[@]}" "$LVT" train "$dir/sweep_config.json" --run-dir "$dir" "${EXTRA[@]}" > "$dir/train.out" 2>&1 \
    || { echo "sweep: run H=$h λ=$l failed (see $dir/train.out)" >&2; return 1; }
  t1=$(date +%s.%N)
  local val ood ev=0
  val=$("$PY" -c "import json; print(json.load(open('$dir/config.json'))['data']['val'])")
  ood=$("$PY" -c "import json; print(json.load(open('$dir/config.json'))['data']['ood'])")
  "$LVT" eval --model "$dir/ckpt/best.h5" --val "$val" --ood "$ood" --json "$dir/5cat.json" > "$dir/5cat.txt" 2>&1 || ev=$?
  [ "$ev" -le 2 ] || { echo "sweep: 5CAT of H=$h λ=$l failed (see $dir/5cat.txt)" >&2; return 1; }
  "$PY" - "$dir" "$h" "$l" "$t0" "$t1" > "$dir/row.csv" <<'PY'
import json, sys
d, h, l, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
hist = json.load(open(d + "/training_history.json"))
last = hist["history"][-1]
n = sum(e["steps"] for e in hist["history"]) or 1
sps = sum(e["samples_per_s"] * e["steps"] for e in hist["history"]) / n
r = json.load(open(d + "/5cat.json"))
g = {x["key"]: x for x in r["gates"]}
row = [h, l, "%.5f" % last["val_cosine"], "%.5f" % last["margin"], "%.6f" % hist["best_val_loss"],
       "%.1f" % (t1 - t0), "%.0f" % sps, "%.5f" % g["cos_p1"]["val"], "%.5f" % g["margin"]["val"],
       "%.5f" % g["cos_p1"]["ood"], "%.5f" % g["margin"]["ood"], "%.4f" % g["r1"]["val"],
       "%.5f" % g["rollout_cos"]["val"], r["checks_passed"], str(r["all_pass"]).lower()]
print(",".join(str(x) for x in row))
PY
}

if [ -n "$TASK" ]; then run_one "${combos[$TASK]}"; exit $?; fi

if [ "$SLURM" = 1 ]; then
  n=${#combos[@]}
  extra_q=$(printf " %q" "${EXTRA[@]}")
  sbatch --wait --array=0-$((n - 1)) --job-name=lvt-sweep --output="$OUT/sweep-%A_%a.out" --export=ALL \
    --wrap "LVT=$LVT bash $0 $CONFIG $OUT --h '$HS' --lambda '$LAMBDAS' --np $NP --task \$SLURM_ARRAY_TASK_ID --$extra_q"
else
  for c in "${combos[@]}"; do run_one "$c"; done
fi
{
  echo "rollout_h,lambda_roll,val_cos,margin,best_val_loss,train_seconds,samples_per_s,val_cos_p1,val_margin_p1,ood_cos_p1,ood_margin_p1,val_r1,val_rollout_cos,checks_passed,all_pass"
  for c in "${combos[@]}"; do
    f="$OUT/h${c%%:*}_l${c##*:}/row.csv"
    [ -f "$f" ] || { echo "sweep: no result for $c" >&2; exit 1; }
    cat "$f"
  done
} > "$OUT/sweep.csv"
echo "sweep: $OUT/sweep.csv"
cat "$OUT/sweep.csv"
