#!/usr/bin/env bash
# nan_retries.sh — a non-finite loss that comes back after each rollback (LVT_FAULT_NAN_REPEAT)
# halves the learning rate again on every retry (lr/2, lr/4, lr/8: the nonfinite records), and the
# final error names a checkpoint that exists: epoch_000.h5 when the fault is in epoch 1, before
# any last.h5.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_nan_retries
tiny_run "$T/cfg.json" 2
LVT_FAULT_NAN_STEP=30 LVT_FAULT_NAN_REPEAT=1 "$LVT" train "$T/cfg.json" --run-dir "$T/r" --set train.nan_max_retries=3 \
  > "$T/r.out" 2> "$T/r.err" && fail "a fault at every retry ended with exit 0"
"$PY" - "$T/r" <<'PY' || fail "retry learning rates"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
lr = [e["lr"] for e in ev if e.get("event") == "nonfinite"]
assert len(lr) == 3, lr
assert all(abs(a - b) < 1e-15 for a, b in zip(lr, [5e-4, 2.5e-4, 1.25e-4])), lr
PY
grep -q "training diverged: non-finite loss at step 30 (epoch 1) after 3 rollbacks; the last good checkpoint is $T/r/ckpt/epoch_000.h5" "$T/r.err" ||
  { cat "$T/r.err"; fail "give-up message"; }
[ -f "$T/r/ckpt/epoch_000.h5" ] || fail "the named checkpoint does not exist"
[ "$(wc -l < "$T/r.err")" = 1 ] || { cat "$T/r.err"; fail "more than one error line"; }
echo "nan_retries: passed"
