# dist_common.sh — sourced by the training and distributed tests: scratch dir, small synthetic
# stores, a small P4 configuration and helpers.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" "$1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none)

# make_stores DIM ARTICLES [extra synth args...]: $T/train.h5 and $T/val.h5
make_stores() {
  local dim=$1 n=$2; shift 2
  "$LVT" synth --out "$T/train.h5" --articles "$n" --dim "$dim" --seed 11 "$@" > /dev/null || fail "synth train"
  "$LVT" synth --out "$T/val.h5" --articles $(( n / 4 + 4 )) --dim "$dim" --seed 12 "$@" > /dev/null || fail "synth val"
}

# wait_step RUN_DIR STEP: poll RUN_DIR/metrics.jsonl (up to 30 s) until it records global step STEP
wait_step() {
  for _ in $(seq 600); do
    grep -q "\"global_step\":$2," "$1/metrics.jsonl" 2>/dev/null && return 0
    sleep 0.05
  done
}

# write_config PATH DIM: a small transformer with the whole P4 objective switched on
write_config() {
  cat > "$1" <<CFG
{"model": {"dim": $2, "d_model": 32, "n_heads": 4, "n_layers": 2, "dropout": 0.1},
 "data": {"train": "$T/train.h5", "val": "$T/val.h5", "ood": "$T/val.h5"},
 "train": {"epochs": 3, "global_batch": 64, "backend": "cpu", "log_every": 1, "seed": 7},
 "objective": {"rollout_h": 3, "lambda_roll": 0.1, "lambda_dir": 0.01, "lambda_fut": 0.01,
               "lambda_ac": 0.005, "context_drop_p": 0.1},
 "eval": {"mini5cat_samples": 64}}
CFG
}
