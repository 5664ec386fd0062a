#!/usr/bin/env bash
# train_margin.sh — a short P4 run on synthetic data with a forward signal (--drift 1) ends with a
# positive val margin (+1 vs last) and a val cosine above copy-last's; the same recipe on
# --drift 0 data (no forward signal) does not invent a margin (final margin < 0.02).
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_margin
for drift in 1 0; do
  stores $drift
  p4_config "$T/p4.json" 3
  "$LVT" train "$T/p4.json" --run-dir "$T/run$drift" > "$T/run$drift.log" 2>&1 || { cat "$T/run$drift.log"; fail "train (drift $drift)"; }
  margin=$(hist_field "$T/run$drift" margin)
  vcos=$(hist_field "$T/run$drift" val_cosine)
  copy=$("$LVT" inspect "$T/val.h5" --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['copy_last_cos'])")
  echo "drift $drift: val_cos $vcos, copy-last $copy, Margin(+1 vs last) $margin"
  grep -q "Margin(+1 vs last):" "$T/run$drift/training.log" || fail "no margin line in training.log"
  if [ $drift = 1 ]; then
    "$PY" -c "import sys; sys.exit(0 if $margin > 0 else 1)" || fail "no positive margin with a forward signal ($margin)"
    "$PY" -c "import sys; sys.exit(0 if $vcos > $copy else 1)" || fail "val cos $vcos does not beat copy-last $copy"
  else
    "$PY" -c "import sys; sys.exit(0 if $margin < 0.02 else 1)" || fail "margin $margin invented on data without forward signal"
  fi
done
echo "train_margin: passed"
