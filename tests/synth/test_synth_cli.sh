#!/usr/bin/env bash
# test_synth_cli.sh — `lvt synth` and `lvt inspect` end to end: the JSON of inspect agrees with an
# independent numpy/h5py recomputation (tests/synth/test_synth_ref.py) on a synthetic and a drift-0
# store, a tampered JSON is caught, same seed = identical vectors and different seed = different,
# --splits writes train/val/ood with disjoint ids and ood topics from other clusters, and bad
# invocations exit 1 with one line on stderr. Same vectors with 1 or 3 OpenMP threads.
set -u
T="$LVT_TEST_TMP/test_synth_cli"
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
PY="$LVT_PYTHON"
REF="$LVT_SOURCE_DIR/tests/synth/test_synth_ref.py"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$PY" -c "import h5py, numpy" 2>/dev/null || { echo "skipped: $PY lacks h5py/numpy"; exit 77; }

# 1. inspect vs numpy (all windows)
"$LVT_BIN" synth --out a.h5 --articles 40 --dim 64 --seed 3 >/dev/null || bad "synth a.h5"
"$LVT_BIN" inspect a.h5 --json --max-windows 1000000 > a.json || bad "inspect a.h5"
"$PY" "$REF" a.h5 a.json || bad "inspect a.h5 disagrees with numpy"
"$LVT_BIN" synth --out z.h5 --articles 40 --dim 64 --seed 3 --drift 0 >/dev/null || bad "synth z.h5"
"$LVT_BIN" inspect z.h5 --json --max-windows 1000000 --context-len 3 > z.json || bad "inspect z.h5"
"$PY" "$REF" z.h5 z.json 3 || bad "inspect z.h5 (L=3) disagrees with numpy"
# the reference must be able to fail: perturb one number
sed 's/"copy_last_cos": 0\.\([0-9]\)/"copy_last_cos": 0.9/' a.json > tampered.json
cmp -s a.json tampered.json && bad "could not tamper the JSON"
"$PY" "$REF" a.h5 tampered.json >/dev/null && bad "the numpy reference accepted a tampered JSON"
# human output carries the same headline numbers
"$LVT_BIN" inspect a.h5 > a.txt || bad "inspect (table)"
grep -q "^copy-last cos" a.txt && grep -q "^forward signal" a.txt && grep -q "^article length" a.txt \
  || bad "table lacks rows: $(cat a.txt)"

# 2. determinism
"$LVT_BIN" synth --out b.h5 --articles 40 --dim 64 --seed 3 >/dev/null || bad "synth b.h5"
"$LVT_BIN" synth --out c.h5 --articles 40 --dim 64 --seed 4 >/dev/null || bad "synth c.h5"
OMP_NUM_THREADS=1 "$LVT_BIN" synth --out b1.h5 --articles 40 --dim 64 --seed 3 >/dev/null || bad "synth b1.h5"
OMP_NUM_THREADS=3 "$LVT_BIN" synth --out b3.h5 --articles 40 --dim 64 --seed 3 >/dev/null || bad "synth b3.h5"
"$PY" - <<'PYEOF' || bad "determinism"
import h5py, numpy as np, sys
r = lambda p: (h5py.File(p, "r")["vectors"][...], h5py.File(p, "r")["article_offsets"][...])
a, b, c = r("a.h5"), r("b.h5"), r("c.h5")
ok = np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
ok &= all(np.array_equal(a[0], r(p)[0]) for p in ("b1.h5", "b3.h5"))  # 1 or 3 threads: same bytes
diff = a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])
print("determinism: same seed identical:", ok, "; other seed differs:", diff)
sys.exit(0 if ok and diff else 1)
PYEOF

# 3. --splits
"$LVT_BIN" synth --out s.h5 --splits --articles 60 --split-val 30 --split-ood 30 --dim 256 --topics 3 \
  --seed 5 >/dev/null || bad "synth --splits"
for n in train val ood; do [ -f "s-$n.h5" ] || bad "missing s-$n.h5"; done
[ -f s.h5 ] && bad "--splits must not write s.h5 itself"
"$PY" - <<'PYEOF' || bad "splits"
import h5py, numpy as np, sys
def load(p):
    f = h5py.File(p, "r")
    V, off, ids = f["vectors"][...], f["article_offsets"][...], f["article_ids"][...]
    M = np.stack([V[off[a]:off[a + 1]].mean(0) for a in range(len(off) - 1)])
    return ids, M / np.linalg.norm(M, axis=1, keepdims=True)
(ti, tm), (vi, vm), (oi, om) = load("s-train.h5"), load("s-val.h5"), load("s-ood.h5")
ok = len(ti) == 60 and len(vi) == 30 and len(oi) == 30
ids = np.concatenate([ti, vi, oi])
ok &= len(set(ids.tolist())) == 120 and ids.min() == 0 and ids.max() == 119
# article means: val shares the 3 topic clusters of train (cos ~ 0.5 * topic share for a third
# of the pairs), ood draws its clusters elsewhere (cos ~ 0)
tv, to = float((tm @ vm.T).mean()), float((tm @ om.T).mean())
print(f"splits: ids ok {ok}; mean cos of article means train-val {tv:.4f}, train-ood {to:.4f}")
ok &= tv > 0.08 and abs(to) < 0.04
sys.exit(0 if ok else 1)
PYEOF

# 4. bad invocations: exit 1, exactly one line on stderr
expect_fail() {
  local want="$1"; shift
  "$LVT_BIN" "$@" >/dev/null 2>err.txt; local rc=$?
  [ "$rc" = 1 ] || bad "'$*' exit $rc (want 1)"
  [ "$(wc -l < err.txt)" = 1 ] || bad "'$*' stderr not one line: $(cat err.txt)"
  grep -q -- "$want" err.txt || bad "'$*' message lacks '$want': $(cat err.txt)"
}
expect_fail "--out is required" synth --articles 3
expect_fail "--drift must be in" synth --out x.h5 --drift 2
expect_fail "unknown argument" synth --out x.h5 --frobnicate
expect_fail "--articles expects an integer" synth --out x.h5 --articles many
expect_fail "cannot be met" synth --out x.h5 --copy-cos 0.99 --far-cos 0.2
expect_fail "need --splits" synth --out x.h5 --split-val 3
expect_fail "nope.h5" inspect nope.h5
expect_fail "--context-len must be in" inspect a.h5 --context-len 0
expect_fail "missing the store" inspect --json
[ -e x.h5 ] && bad "a failed synth left x.h5 behind"

[ $fail = 0 ] && echo "test_synth_cli: passed"
exit $fail
