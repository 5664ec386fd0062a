#!/usr/bin/env bash
# train_devdata.sh — the backend-resident data path of the trainer (the store uploaded once, each
# step moving only window indices and gathering on the backend; the path the CUDA backend takes),
# forced on the CPU backend with LVT_DEVDATA=1, gives weights bit-identical to the host-gather path,
# and its fault injection is caught the same way.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_devdata
stores 1 60
p4_config "$T/p4.json" 2
"$LVT" train "$T/p4.json" --run-dir "$T/host" --set model.dropout=0.1 > "$T/host.log" 2>&1 || fail "host gather"
LVT_DEVDATA=1 "$LVT" train "$T/p4.json" --run-dir "$T/dev" --set model.dropout=0.1 > "$T/dev.log" 2>&1 || { cat "$T/dev.log"; fail "backend gather"; }
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/host/ckpt/last.h5" "$T/dev/ckpt/last.h5" 0 || fail "backend gather differs from host gather"
LVT_DEVDATA=1 LVT_FAULT_NAN_STEP=5 "$LVT" train "$T/p4.json" --run-dir "$T/nan" > "$T/nan.log" 2>&1 || { cat "$T/nan.log"; fail "fault on the backend path"; }
grep -q '"event":"nonfinite","global_step":5' "$T/nan/metrics.jsonl" || fail "fault not caught on the backend path"
echo "train_devdata: passed"
