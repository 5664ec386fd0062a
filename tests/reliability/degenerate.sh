#!/usr/bin/env bash
# degenerate.sh — a row whose norm is below 1e-6 (zero, or 1e-40 that would normalise to Inf) is an
# error naming the file and row wherever a store is read (train or val store of lvt train, lvt
# inspect), never a NaN val_loss with exit 0; lvt convert refuses such a row naming it, and with
# --drop-degenerate drops it (the written store has one row less and loads); data.drop_degenerate
# (lvt train) and --drop-degenerate (lvt eval) drop such rows on load, saying how many.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_degenerate
tiny_run "$T/cfg.json" 1
"$PY" - "$T" <<'PY' || fail "cannot write the inputs"
import shutil, sys, h5py, numpy as np
T = sys.argv[1]
for name, val in (("tiny", 1e-40), ("zero", 0.0)):
    shutil.copy(T + "/val.h5", T + "/%s.h5" % name)
    with h5py.File(T + "/%s.h5" % name, "r+") as f:
        f["vectors"][7, :] = val
v = np.random.default_rng(1).standard_normal((40, 16)).astype(np.float32)
v[13] = 0.0
np.save(T + "/zero_row.npy", v)
PY
one_line() { [ "$(wc -l < "$1")" = 1 ] || { cat "$1"; fail "$2: more than one line"; }; }
for name in tiny zero; do
  "$LVT" train "$T/cfg.json" --run-dir "$T/run_$name" --set data.val="$T/$name.h5" > "$T/$name.log" 2>&1 && fail "$name val store accepted"
  grep -q "$name.h5: /vectors: row 7 has norm" "$T/$name.log" || { cat "$T/$name.log"; fail "$name: message does not name file and row"; }
  one_line "$T/$name.log" "$name"
done
"$LVT" train "$T/cfg.json" --run-dir "$T/run_train" --set data.train="$T/tiny.h5" > "$T/train.log" 2>&1 && fail "degenerate train store accepted"
grep -q "row 7 has norm" "$T/train.log" || { cat "$T/train.log"; fail "train store: unclear"; }
"$LVT" inspect "$T/zero.h5" > "$T/inspect.log" 2>&1 && fail "inspect accepted a zero row"
grep -q "row 7 has norm" "$T/inspect.log" || { cat "$T/inspect.log"; fail "inspect: unclear"; }
"$LVT" convert "$T/zero_row.npy" --out "$T/conv.h5" --article-len 8 > "$T/conv.log" 2>&1 && fail "convert wrote a zero row"
grep -q "has norm 0, below 1e-06" "$T/conv.log" || { cat "$T/conv.log"; fail "convert: unclear"; }
grep -q "13" "$T/conv.log" || { cat "$T/conv.log"; fail "convert: row not named"; }
[ ! -e "$T/conv.h5" ] || fail "convert left a store"
"$LVT" convert "$T/zero_row.npy" --out "$T/conv.h5" --article-len 8 --drop-degenerate > "$T/conv2.log" 2>&1 || { cat "$T/conv2.log"; fail "--drop-degenerate"; }
grep -q "dropped 1 degenerate row" "$T/conv2.log" || { cat "$T/conv2.log"; fail "drop not reported"; }
"$PY" -c "
import h5py
f = h5py.File('$T/conv.h5', 'r')
assert f['vectors'].shape == (39, 16), f['vectors'].shape
assert list(f['article_offsets'][:]) == [0, 8, 15, 23, 31, 39], f['article_offsets'][:]" || fail "dropped store wrong"
"$LVT" inspect "$T/conv.h5" > /dev/null 2>&1 || fail "the dropped store does not load"
# the opt-in on load: lvt train with data.drop_degenerate, lvt eval --drop-degenerate
"$LVT" train "$T/cfg.json" --run-dir "$T/run_drop" --set data.val="$T/zero.h5" --set data.drop_degenerate=true > "$T/drop.log" 2>&1 || { cat "$T/drop.log"; fail "data.drop_degenerate"; }
grep -q "data.drop_degenerate: dropped 1 degenerate row (norm below 1e-06) of $T/zero.h5" "$T/run_drop/training.log" || { cat "$T/run_drop/training.log"; fail "drop on load not logged"; }
grep -q "val_loss nan\|val_loss -nan" "$T/run_drop/training.log" && fail "a NaN val_loss after dropping"
"$LVT" eval --baseline copy-last --val "$T/zero.h5" --ood "$T/val.h5" --max-samples 50 > "$T/eval.log" 2>&1 && fail "eval accepted a zero row"
grep -q "row 7 has norm" "$T/eval.log" || { cat "$T/eval.log"; fail "eval: unclear"; }
"$LVT" eval --baseline copy-last --val "$T/zero.h5" --ood "$T/val.h5" --max-samples 50 --drop-degenerate > "$T/eval2.log" 2>&1
[ $? -le 2 ] || { cat "$T/eval2.log"; fail "eval --drop-degenerate"; }
grep -q "dropped 1 row of $T/zero.h5 and 0 of" "$T/eval2.log" || { cat "$T/eval2.log"; fail "eval drop not reported"; }
echo "degenerate: passed"
