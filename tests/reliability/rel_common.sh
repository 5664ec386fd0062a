# rel_common.sh — sourced by the reliability tests: a tiny store pair and a tiny model, so one run
# takes about a second on one core.
source "$LVT_SOURCE_DIR/tests/common/sh_common.sh" "$1"

# tiny_run CONFIG EPOCHS: $T/train.h5, $T/val.h5 (dim 16) and a 1-layer model over them
tiny_run() {
  [ -f "$T/train.h5" ] || "$LVT" synth --out "$T/train.h5" --articles 40 --dim 16 --seed 31 > /dev/null || fail "synth train"
  [ -f "$T/val.h5" ] || "$LVT" synth --out "$T/val.h5" --articles 10 --dim 16 --seed 32 > /dev/null || fail "synth val"
  cat > "$1" <<CFG
{"model": {"dim": 16, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.1},
 "data": {"train": "$T/train.h5", "val": "$T/val.h5", "ood": "$T/val.h5"},
 "train": {"epochs": $2, "global_batch": 8, "backend": "cpu", "log_every": 5, "seed": 5},
 "optim": {"lr": 1e-3},
 "curriculum": [{"from_epoch": 1, "name": "warmup"},
                {"from_epoch": 2, "name": "rollout", "rollout_h": 2, "lambda_roll": 0.05}],
 "eval": {"mini5cat_samples": 50}}
CFG
}
