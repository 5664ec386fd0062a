#!/usr/bin/env bash
# train_bf16.sh — train.math bf16 on the CPU backend (docs/bench.md, "bf16 on AMX"): where the CPU
# has AMX-BF16 the header says the GEMMs run in bf16 on AMX, the run finishes, and its per-epoch
# val loss and val cos follow the fp32 run of the same config within bf16's rounding (val loss
# within 5 %, val cos within 0.02 every epoch), while not being bit-identical to it (so the bf16
# path ran). Without AMX the header says why it fell back to fp32, and the test skips (77).
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_bf16
stores 1 240
p4_config "$T/cfg.json" 4
for m in fp32 bf16; do
  "$LVT" train "$T/cfg.json" --run-dir "$T/$m" --set train.math=$m > "$T/$m.log" 2>&1 || { cat "$T/$m.log"; fail "$m run"; }
done
grep -q "GEMMs in fp32 (train.math fp32)" "$T/fp32/training.log" || fail "the fp32 header does not say fp32"
if ! grep -q "GEMMs in bf16 on AMX, fp32 accumulation (train.math bf16)" "$T/bf16/training.log"; then
  grep -q "GEMMs in fp32: train.math bf16 needs AMX-BF16 on the CPU backend, but " "$T/bf16/training.log" ||
    fail "the bf16 header says neither AMX nor why not: $(grep -m1 'BLAS:' "$T/bf16/training.log")"
  echo "no AMX-BF16 here: $(grep -m1 -o 'but .*' "$T/bf16/training.log"); skipped"
  exit 77
fi
"$PY" - "$T/fp32" "$T/bf16" <<'PY' || fail "bf16 does not follow fp32"
import json, sys
h32, h16 = (json.load(open(r + "/training_history.json"))["history"] for r in sys.argv[1:3])
assert len(h32) == len(h16) == 4, (len(h32), len(h16))
same = True
for a, b in zip(h32, h16):
    print("epoch %d  val_loss %.6f / %.6f  val_cos %.4f / %.4f" % (a["epoch"], a["val_loss"], b["val_loss"],
          a["val_cosine"], b["val_cosine"]))
    assert abs(b["val_loss"] - a["val_loss"]) <= 0.05 * a["val_loss"], (a, b)
    assert abs(b["val_cosine"] - a["val_cosine"]) <= 0.02, (a, b)
    same &= a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]
assert not same, "bf16 and fp32 runs are identical: the bf16 GEMM did not run"
PY
echo "train_bf16: passed"
