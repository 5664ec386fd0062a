#!/usr/bin/env bash
# train_context.sh — the "ignores its context" flag of the epoch line (docs/training.md,
# "Baselines"): a run whose model cannot see anything in its context — every article repeats one
# vector, so the mini-5CAT's shuffled context is the same input and dcos(shuffled) is 0 — prints
# the flag on every epoch line; a run on a store with a strong forward signal, whose model reads
# the order of its context, prints it on none. On both, the flag is on an epoch line exactly when
# |mini5cat_ctx_shuffled| of that epoch in training_history.json is below 0.005.
source "$LVT_SOURCE_DIR/tests/train/train_common.sh" train_context
stores 1 80
"$PY" - "$T/const.npz" <<'PY' || fail "constant-article npz"
import sys
import numpy as np
rng = np.random.default_rng(5)
n_art, n_chunk, dim = 60, 12, 32
v = rng.standard_normal((n_art, dim)).astype(np.float32)
np.savez(sys.argv[1], vectors=np.repeat(v, n_chunk, axis=0),
         article_indices=np.repeat(np.arange(n_art, dtype=np.int64), n_chunk),
         chunk_indices=np.tile(np.arange(n_chunk, dtype=np.int64), n_art))
PY
"$LVT" convert "$T/const.npz" --out "$T/const.h5" > /dev/null || fail "convert the constant articles"
cfg() { # cfg PATH TRAIN VAL
  cat > "$1" <<CFG
{"model": {"dim": 32, "d_model": 32, "n_heads": 4, "n_layers": 2, "dropout": 0.0},
 "data": {"train": "$2", "val": "$3", "ood": "$3"},
 "train": {"epochs": 3, "global_batch": 32, "backend": "cpu", "log_every": 0, "seed": 3},
 "optim": {"lr": 2e-3},
 "eval": {"mini5cat_samples": 200}}
CFG
}
cfg "$T/reads.json" "$T/train.h5" "$T/val.h5"
cfg "$T/blind.json" "$T/const.h5" "$T/const.h5"
for r in reads blind; do
  "$LVT" train "$T/$r.json" --run-dir "$T/$r" > "$T/$r.log" 2>&1 || { cat "$T/$r.log"; fail "train $r"; }
done
"$PY" - "$T/reads" "$T/blind" <<'PY' || fail "ignores-its-context flag"
import json, sys
for run, want in ((sys.argv[1], False), (sys.argv[2], True)):
    hist = json.load(open(run + "/training_history.json"))["history"]
    lines = [l for l in open(run + "/training.log") if "context sensitivity dcos(shuffled)" in l]
    assert len(lines) == len(hist) == 3, (run, len(lines), len(hist))
    for rec, line in zip(hist, lines):
        d = rec["mini5cat_ctx_shuffled"]
        flagged = "(ignores its context)" in line
        assert flagged == (abs(d) < 0.005), (run, d, line)
        assert flagged == want, (run, d, line)
        assert ("%+.4f" % d) in line, (run, d, line)
    print("%s: dcos(shuffled) per epoch %s, flagged %s"
          % (run.rsplit("/", 1)[1], " ".join("%+.4f" % r["mini5cat_ctx_shuffled"] for r in hist), want))
PY
echo "train_context: passed"
