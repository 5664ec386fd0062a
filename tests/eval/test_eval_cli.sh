#!/usr/bin/env bash
# test_eval_cli.sh — `lvt eval` end to end: stores written by h5py (independent of lvt's writer),
# copy-last fails the gates (exit 2) with the table printed and a JSON report that parses and
# agrees with itself; the mean baseline runs; bad input exits 1 with one line on stderr.
set -u
T="$LVT_TEST_TMP/test_eval_cli"
rm -rf "$T"; mkdir -p "$T"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$LVT_PYTHON" - "$T" <<'PY' || { echo "FAIL: store generation"; exit 1; }
import sys, numpy as np, h5py
out = sys.argv[1]
def store(path, n_art, D, seed, lens=None):
    rng = np.random.default_rng(seed)
    lens = lens or [int(x) for x in rng.integers(8, 60, n_art)]
    rows = []
    for L in lens:
        x = rng.standard_normal(D); x /= np.linalg.norm(x)
        drift = rng.standard_normal(D); drift /= np.linalg.norm(drift)
        for _ in range(L):
            rows.append(x)
            x = 0.55 * x + 0.25 * drift + 0.8 * rng.standard_normal(D) / np.sqrt(D)
            x /= np.linalg.norm(x)
    V = np.array(rows, dtype=np.float32)
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    with h5py.File(path, "w") as f:
        f["vectors"] = V
        f["article_offsets"] = off
        f["article_ids"] = np.arange(len(lens), dtype=np.int64)
        f.attrs["format"] = "lvt-articles"
        f.attrs["version"] = 1
        f.attrs["dim"] = D
        f.attrs["normalized"] = 1
        f.attrs["source"] = "test_eval_cli"
store(f"{out}/val.h5", 40, 32, 1)
store(f"{out}/ood.h5", 40, 32, 2)
store(f"{out}/short.h5", 5, 32, 3, lens=[3, 4, 5, 2, 5])
store(f"{out}/d16.h5", 10, 16, 4)
PY

# copy-last: gates fail -> exit 2, table on stdout, JSON written
"$LVT_BIN" eval --baseline copy-last --val "$T/val.h5" --ood "$T/ood.h5" --max-samples 300 \
    --json "$T/r.json" >"$T/out.txt" 2>"$T/err.txt"
rc=$?
[ "$rc" = 2 ] || bad "copy-last exit $rc (want 2): $(cat "$T/err.txt")"
grep -q "margin(+1)" "$T/out.txt" || bad "table lacks the margin row"
grep -q "GATES FAILED" "$T/out.txt" || bad "table lacks the verdict"
[ "$(grep -c -E '^[A-E]  ' "$T/out.txt")" = 12 ] || bad "table should have 12 gate rows"
"$LVT_PYTHON" - "$T/r.json" <<'PY' || bad "JSON report check"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["format"] == "lvt-5cat" and r["predictor"] == "copy-last", r
assert len(r["gates"]) == 12 and r["all_pass"] is False
g = {x["key"]: x for x in r["gates"]}
val, ood = r["splits"]["val"], r["splits"]["ood"]
assert val["n_selected"] == 300 and ood["n_selected"] == 300
# copy-last: cos(k=0) == 1, margin = cos(+1) - 1 < 0, the margin gate fails on both splits
assert abs(val["A"]["cos"]["0"] - 1) < 1e-6, val["A"]
assert abs(val["A"]["margin"] - (val["A"]["cos_p1"] - 1)) < 1e-6
assert g["margin"]["pass"] is False and g["margin"]["pass_val"] is False and g["margin"]["pass_ood"] is False
assert g["margin"]["val"] == val["A"]["margin"] and g["rollout_cos"]["ood"] == ood["D"]["rollout_cos"]
# copy-last ignores everything but the last slot: repeat-last changes nothing
assert abs(val["C"]["repeat_last"]) < 1e-12
assert abs(g["band_gap"]["value"] - abs(val["E"]["band_cos"] - ood["E"]["band_cos"])) < 1e-12
assert r["checks_passed"] + r["checks_failed"] == 23
# the baselines beside the gates: copy-last's equal the predictor's own (it is copy-last) on the same windows
b = r["baselines"]
for s, m in (("val", val), ("ood", ood)):
    assert b["copy_last"][s + "_cos_p1"] == m["A"]["cos_p1"] and b["copy_last"][s + "_margin"] == m["A"]["margin"], b
    assert b["mean_of_context"][s + "_cos_p1"] != m["A"]["cos_p1"], b
PY
grep -q "baseline copy-last .*predictor at or above it on VAL" "$T/out.txt" || bad "table lacks the copy-last baseline line"
grep -q "baseline mean-of-context" "$T/out.txt" || bad "table lacks the mean-of-context baseline line"

# mean baseline, all windows
"$LVT_BIN" eval --baseline mean --val "$T/val.h5" --ood "$T/ood.h5" --max-samples 0 --horizon 3 \
    >"$T/out2.txt" 2>"$T/err2.txt"
rc=$?
{ [ "$rc" = 0 ] || [ "$rc" = 2 ]; } || bad "mean exit $rc: $(cat "$T/err2.txt")"
grep -q "predictor: mean" "$T/out2.txt" || bad "mean table"

# errors: exit 1, exactly one line on stderr
expect_err() { # want-substring, args...
    local want="$1"; shift
    "$LVT_BIN" eval "$@" >/dev/null 2>"$T/e.txt"; local r=$?
    [ "$r" = 1 ] || bad "'$*' exit $r (want 1)"
    [ "$(wc -l <"$T/e.txt")" = 1 ] || bad "'$*' stderr is not one line: $(cat "$T/e.txt")"
    grep -q -- "$want" "$T/e.txt" || bad "'$*' message lacks '$want': $(cat "$T/e.txt")"
}
expect_err "unknown baseline" --baseline median --val "$T/val.h5" --ood "$T/ood.h5"
expect_err "both --val and --ood" --baseline mean --val "$T/val.h5"
expect_err "--model M or --baseline" --val "$T/val.h5" --ood "$T/ood.h5"
expect_err "missing.h5" --baseline mean --val "$T/missing.h5" --ood "$T/ood.h5"
expect_err "no window" --baseline mean --val "$T/short.h5" --ood "$T/ood.h5"
expect_err "dimension mismatch" --baseline mean --val "$T/val.h5" --ood "$T/d16.h5"
expect_err "--horizon" --baseline mean --val "$T/val.h5" --ood "$T/ood.h5" --horizon 0
expect_err "unknown argument" --baseline mean --val "$T/val.h5" --ood "$T/ood.h5" --frob
expect_err "nope.h5" --model "$T/nope.h5" --val "$T/val.h5" --ood "$T/ood.h5"

[ $fail = 0 ] && echo "test_eval_cli: passed"
exit $fail
