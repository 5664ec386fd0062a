# train_common.sh — sourced by the training tests: scratch dir, small synthetic stores and a small
# P4 configuration whose phases come early (epochs are short).
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" "$1"

# stores DRIFT [ARTICLES]: $T/train.h5, $T/val.h5 (dim 32)
stores() {
  local drift=$1 n=${2:-240}
  "$LVT" synth --out "$T/train.h5" --articles "$n" --dim 32 --drift "$drift" --seed 21 > /dev/null || fail "synth train"
  "$LVT" synth --out "$T/val.h5" --articles $(( n / 4 )) --dim 32 --drift "$drift" --seed 22 > /dev/null || fail "synth val"
}

# p4_config PATH EPOCHS: the P4 recipe's shape (warm-up, rollout, guards, stronger rollout, future)
p4_config() {
  cat > "$1" <<CFG
{"model": {"dim": 32, "d_model": 32, "n_heads": 4, "n_layers": 2, "dropout": 0.0},
 "data": {"train": "$T/train.h5", "val": "$T/val.h5", "ood": "$T/val.h5"},
 "train": {"epochs": $2, "global_batch": 32, "backend": "cpu", "log_every": 20, "seed": 3},
 "optim": {"lr": 2e-3},
 "curriculum": [
   {"from_epoch": 1, "name": "warmup"},
   {"from_epoch": 2, "name": "rollout", "rollout_h": 3, "lambda_roll": 0.05},
   {"from_epoch": 3, "name": "guards", "lambda_dir": 0.002, "context_drop_p": 0.05},
   {"from_epoch": 4, "lambda_roll": 0.10},
   {"from_epoch": 5, "lambda_fut": 0.002}],
 "eval": {"mini5cat_samples": 200}}
CFG
}

# hist_field RUN_DIR FIELD: the last epoch's FIELD from training_history.json
hist_field() {
  "$PY" -c "import json,sys; print(json.load(open('$1/training_history.json'))['history'][-1]['$2'])"
}
